/**
 * Row 8: how fast a backlog drains for a given `maxBatchSize`. N custom events are tracked into an
 * Emitter whose loop is not started yet (as if they had piled up while the collector was down),
 * then `drain()` starts it and waits until the collector has taken them all. Before that, a
 * separate Emitter with the same options drains a small backlog, so that the code is warm.
 */
import { Emitter, Tracker } from 'nestjs-snowplow/core';
import { main, params, report } from '../support/child';
import { CollectorClient } from '../support/collector-client';
import { APP_ID, EVENT_NAME, EVENT_PROPS, NAMESPACE, emitterOptionsFromEnv } from '../support/subjects';

interface Params {
  collectorPort: number;
  backlog: number;
  maxBatchSize: number;
  warmup: number;
}

const DRAIN_TIMEOUT_MS = 300_000;

main(async () => {
  const p = params<Params>();
  const collectorUrl = `http://127.0.0.1:${p.collectorPort}/com.snowplowanalytics.snowplow/tp2`;
  const props = EVENT_PROPS as Record<string, unknown>;
  const queue = (events: number) => {
    const emitter = new Emitter({
      ...emitterOptionsFromEnv(),
      collectorUrl,
      capacity: events,
      maxBatchSize: p.maxBatchSize,
      logger: { warn: () => undefined, error: () => undefined },
    });
    const tracker = new Tracker({ appId: APP_ID, emitter, namespace: NAMESPACE });
    for (let i = 0; i < events; i++) tracker.trackEvent(EVENT_NAME, props);
    if (emitter.queueDepth !== events) throw new Error(`expected ${events} queued, got ${emitter.queueDepth}`);
    return emitter;
  };

  const warm = queue(p.warmup);
  if (!(await warm.drain(DRAIN_TIMEOUT_MS)).drained) throw new Error('the warm-up backlog did not drain');
  await warm.stop();

  const emitter = queue(p.backlog);
  const collector = new CollectorClient(p.collectorPort);
  const before = await collector.stats();
  const cpu0 = process.cpuUsage();
  const started = performance.now();
  const drained = await emitter.drain(DRAIN_TIMEOUT_MS);
  const ms = performance.now() - started;
  const cpu = process.cpuUsage(cpu0);
  const after = await collector.stats();
  if (!drained.drained) throw new Error(`backlog of ${p.backlog} not drained: ${drained.remaining} remain`);
  const delivered = after.events - before.events;
  if (delivered !== p.backlog) throw new Error(`the collector received ${delivered} of ${p.backlog} events`);
  await emitter.stop();
  await report({
    type: 'result',
    ms,
    eventsPerSecond: (p.backlog / ms) * 1000,
    requests: after.requests - before.requests,
    cpuUsPerEvent: (cpu.user + cpu.system) / p.backlog,
  });
});
