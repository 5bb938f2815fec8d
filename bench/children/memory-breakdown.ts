/**
 * Row 9: where the memory of queued events goes, measured with GC before and after (run with
 * --expose-gc): heap bytes per queued custom event and per queued billing event, what parts of a
 * custom event take, the payload text written when an event is sent, and the request bodies of a
 * batch (Buffers outside the heap). Then the queued custom events are drained to the bench
 * collector, and the process's peak RSS tells what sending them added.
 */
import { randomUUID } from 'node:crypto';
import { Emitter, Tracker } from 'nestjs-snowplow/core';
import type { QueuedEvent, TrackedPayload } from 'nestjs-snowplow/core';
import { serialiseBatch } from 'nestjs-snowplow/internal/emitter/batch-body';
import { bodyBytes } from 'nestjs-snowplow/internal/tracker/payload';
import { main, params, report } from '../support/child';
import { APP_ID, EVENT_NAME, EVENT_PROPS, NAMESPACE } from '../support/subjects';

interface Params {
  collectorPort: number;
  deadPort: number;
  events: number;
  batchSizes: number[];
}

export interface MemorySnapshot {
  rss: number;
  heapUsed: number;
  heapTotal: number;
  /** external + arrayBuffers. */
  external: number;
}

export interface MemoryBreakdown {
  type: 'result';
  events: number;
  empty: MemorySnapshot;
  /** Right after tracking `events` custom events, before any forced GC. */
  queuedNoGc: MemorySnapshot;
  queued: MemorySnapshot;
  /** Right after `drain()` resolved, before any forced GC; and the process's peak RSS by then. */
  drainedNoGc: MemorySnapshot;
  peakRss: number;
  /** Peak RSS before draining (after tracking). */
  peakRssBeforeDrain: number;
  drainMs: number;
  /** Heap bytes per queued event (GC before and after). */
  customPerEvent: number;
  billingPerEvent: number;
  /** Heap bytes per flat 36-character id, per props JSON text, per written payload text (array slot excluded). */
  eidPerEvent: number;
  propsPerEvent: number;
  payloadTextPerEvent: number;
  /** Heap bytes of an emitter with a custom lane of `events` slots, nothing queued. */
  emitterFixed: number;
  /** Request body bytes of a batch of each size. */
  bodies: Array<{ batchSize: number; bytes: number }>;
  maxConcurrentRequests: number;
}

function gc(): void {
  const collect = (globalThis as { gc?: () => void }).gc;
  if (!collect) throw new Error('memory-breakdown.ts needs --expose-gc');
  for (let i = 0; i < 3; i++) collect();
}

function snapshot(): MemorySnapshot {
  const u = process.memoryUsage();
  return { rss: u.rss, heapUsed: u.heapUsed, heapTotal: u.heapTotal, external: u.external + u.arrayBuffers };
}

function heapAfterGc(): number {
  gc();
  return process.memoryUsage().heapUsed;
}

/**
 * Heap bytes per element of what `fill` builds and keeps (the array holding them is allocated
 * before, and `fill` runs a while first so that its code and feedback are not counted).
 */
function perElement(count: number, fill: (i: number) => unknown): number {
  for (let i = 0; i < 1_000; i++) fill(i);
  const held: unknown[] = new Array<unknown>(count).fill(undefined);
  const before = heapAfterGc();
  for (let i = 0; i < count; i++) held[i] = fill(i);
  const after = heapAfterGc();
  if (held.length !== count) throw new Error('lost the elements');
  return (after - before) / count;
}

main(async () => {
  const p = params<Params>();
  const n = p.events;
  const props = EVENT_PROPS as Record<string, unknown>;
  const silent = { warn: () => undefined, error: () => undefined };
  // Not started: nothing is sent before drain().
  const emitter = new Emitter({
    collectorUrl: `http://127.0.0.1:${p.collectorPort}/com.snowplowanalytics.snowplow/tp2`,
    capacity: n,
    logger: silent,
  });
  const tracker = new Tracker({ appId: APP_ID, emitter, namespace: NAMESPACE });
  gc();
  const empty = snapshot();

  // The emitter alone (its lane of n slots, the client, the agents): a second one, nothing queued.
  const heapBeforeSecond = heapAfterGc();
  const second = new Emitter({
    collectorUrl: `http://127.0.0.1:${p.deadPort}/com.snowplowanalytics.snowplow/tp2`,
    capacity: n,
    logger: silent,
  });
  const emitterFixed = heapAfterGc() - heapBeforeSecond;
  await second.stop();

  const beforeCustom = heapAfterGc();
  for (let i = 0; i < n; i++) tracker.trackEvent(EVENT_NAME, props);
  const queuedNoGc = snapshot();
  gc();
  const queued = snapshot();
  const customPerEvent = (queued.heapUsed - beforeCustom) / n;
  if (emitter.queueDepth !== n) throw new Error(`expected ${n} queued, got ${emitter.queueDepth}`);

  const peakRssBeforeDrain = process.resourceUsage().maxRSS * 1024;
  const drainStarted = performance.now();
  const drained = await emitter.drain(300_000);
  const drainMs = performance.now() - drainStarted;
  const drainedNoGc = snapshot();
  const peakRss = process.resourceUsage().maxRSS * 1024;
  if (!drained.drained) throw new Error(`${drained.remaining} events not drained`);
  await emitter.stop();

  // The parts of a custom event, alone, as many as the events queued above.
  const eidPerEvent = perElement(n, () => {
    const id = randomUUID();
    id.charCodeAt(0); // flattened, as the tracker keeps it
    return id;
  });
  const propsPerEvent = perElement(n, () => JSON.stringify(props));

  // Events as the emitter holds them, from a tracker whose sink keeps them: their payload texts
  // are written only when a batch is serialised.
  const kept: QueuedEvent[] = [];
  const keeper = new Tracker({
    appId: APP_ID,
    namespace: NAMESPACE,
    emitter: {
      enqueue: (payload: TrackedPayload) => {
        const q = payload as Partial<QueuedEvent> & TrackedPayload;
        kept.push(
          typeof q.bytes === 'number' && typeof q.attempts === 'number'
            ? (q as QueuedEvent)
            : { ...payload, bytes: payload.bytes ?? bodyBytes(payload.json), attempts: 0 },
        );
      },
    },
  });
  const largest = Math.max(...p.batchSizes);
  for (let i = 0; i < Math.max(largest, 1_000); i++) keeper.trackEvent(EVENT_NAME, props);
  const payloadTextPerEvent = perElement(n, (i) => kept[i % kept.length].json);
  const bodies = p.batchSizes.map((batchSize) => ({
    batchSize,
    bytes: serialiseBatch(kept.slice(0, batchSize), Date.now()).length,
  }));

  const billingEmitter = new Emitter({
    collectorUrl: `http://127.0.0.1:${p.deadPort}/com.snowplowanalytics.snowplow/tp2`,
    billing: { capacity: n },
    logger: silent,
  });
  const billingTracker = new Tracker({ appId: APP_ID, emitter: billingEmitter, namespace: NAMESPACE });
  // Billing events last, in an emitter of their own: they keep their whole payload text.
  const beforeBilling = heapAfterGc();
  for (let i = 0; i < n; i++) {
    billingTracker.trackBillingEventWithOptionalInput(
      { category: 'ci', eventType: 'ci_minutes', realm: 'SaaS', unitOfMeasure: 'minute', quantity: 2 },
      { projectId: 42, namespaceId: 7 },
    );
  }
  const billingPerEvent = (heapAfterGc() - beforeBilling) / n;
  if (billingEmitter.queueDepth !== n)
    throw new Error(`expected ${n} billing events, got ${billingEmitter.queueDepth}`);

  await report({
    type: 'result',
    events: n,
    empty,
    queuedNoGc,
    queued,
    drainedNoGc,
    peakRss,
    peakRssBeforeDrain,
    drainMs,
    customPerEvent,
    billingPerEvent,
    eidPerEvent,
    propsPerEvent,
    payloadTextPerEvent,
    emitterFixed,
    bodies,
    maxConcurrentRequests: emitter.options.maxConcurrentRequests,
  } satisfies MemoryBreakdown);
  process.exit(0);
});
