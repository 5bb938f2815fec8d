import { Registry } from 'prom-client';
import { EmitterService } from '../../../lib/module/emitter.service';
import { SnowplowModule } from '../../../lib/module/snowplow.module';
import { SnowplowModuleOptions } from '../../../lib/module/snowplow-module-options';
import { SCHEMAS } from '../../../lib/tracker/schemas';
import { decodeAccepted } from '../../support/decode';
import { LocalCollector } from '../../../lib/testing/local-collector';

export const APP_ID = 'track-event-spec';

/** SnowplowModule.forRoot pointed at `collector`, with metrics on a private registry. */
export function snowplowModule(
  collector: LocalCollector,
  registry: Registry,
  more: Partial<SnowplowModuleOptions> = {},
) {
  return SnowplowModule.forRoot({
    collectorUrl: collector.endpoint,
    appId: APP_ID,
    metrics: { registry },
    shutdownTimeoutMs: 10_000,
    ...more,
  });
}

/**
 * Waits until everything the app's emitter holds reached the collector, then returns the accepted
 * events, schema-validated. After a response the handler's event is already queued, so counting
 * after a drain needs no sleep.
 */
export async function drainedEvents(emitter: EmitterService, collector: LocalCollector) {
  const result = await emitter.drain(20_000);
  if (!result.drained) throw new Error(`emitter did not drain: ${result.remaining} events left`);
  return decodeAccepted(collector);
}

export async function eventsNamed(emitter: EmitterService, collector: LocalCollector, name: string) {
  return (await drainedEvents(emitter, collector)).filter((event) => event.name === name);
}

/** snowplow_track_errors_total{source} on `registry`, of one kind when `kind` is given. */
export async function trackErrors(registry: Registry, source = 'interceptor', kind?: string): Promise<number> {
  const metric = registry.getSingleMetric('snowplow_track_errors_total');
  if (!metric) return 0;
  const { values } = await metric.get();
  return values
    .filter((v) => v.labels.source === source && (kind === undefined || v.labels.kind === kind))
    .reduce((sum, v) => sum + v.value, 0);
}

/** The billable_usage entities of the accepted billing events named `eventType`, schema-validated. */
export async function billingNamed(emitter: EmitterService, collector: LocalCollector, eventType: string) {
  return (await drainedEvents(emitter, collector))
    .filter((event) => event.eventType === 'se' && event.name === eventType)
    .map((event) => {
      const usage = event.contexts.find((c) => c.schema === SCHEMAS.billableUsage);
      if (!usage) throw new Error(`billing event ${event.eid} has no billable_usage entity`);
      return usage.data as Record<string, any>;
    });
}
