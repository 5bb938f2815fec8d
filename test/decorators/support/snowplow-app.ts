import { Registry } from 'prom-client';
import { EmitterService } from '../../../lib/module/emitter.service';
import { SnowplowModule } from '../../../lib/module/snowplow.module';
import { decodeAccepted } from '../../support/decode';
import { TestCollector } from '../../support/test-collector';

export const APP_ID = 'track-event-spec';

/** SnowplowModule.forRoot pointed at `collector`, with metrics on a private registry. */
export function snowplowModule(collector: TestCollector, registry: Registry) {
  return SnowplowModule.forRoot({
    collectorUrl: collector.endpoint,
    appId: APP_ID,
    metrics: { registry },
    shutdownTimeoutMs: 10_000,
  });
}

/**
 * Waits until everything the app's emitter holds reached the collector, then returns the accepted
 * events, schema-validated. After a response the handler's event is already queued, so counting
 * after a drain needs no sleep.
 */
export async function drainedEvents(emitter: EmitterService, collector: TestCollector) {
  const result = await emitter.drain(20_000);
  if (!result.drained) throw new Error(`emitter did not drain: ${result.remaining} events left`);
  return decodeAccepted(collector);
}

export async function eventsNamed(emitter: EmitterService, collector: TestCollector, name: string) {
  return (await drainedEvents(emitter, collector)).filter((event) => event.name === name);
}

/** snowplow_track_errors_total{source} on `registry`. */
export async function trackErrors(registry: Registry, source = 'interceptor'): Promise<number> {
  const metric = registry.getSingleMetric('snowplow_track_errors_total');
  if (!metric) return 0;
  const { values } = await metric.get();
  return values.filter((v) => v.labels.source === source).reduce((sum, v) => sum + v.value, 0);
}
