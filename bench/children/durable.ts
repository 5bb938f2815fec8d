/**
 * Row 6: how fast tracking puts events into the store: the SQLite outbox against the in-memory
 * ring buffer. Custom events (`kind: 'custom'`) are written once per event-loop tick in one
 * transaction; billing events (`kind: 'billing'`) are committed one by one before
 * `trackBillingEvent` returns. The send loop is not started: this measures tracking into the
 * store, not delivery.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setImmediate as nextTick } from 'node:timers/promises';
import { Emitter, Tracker } from 'nestjs-snowplow/core';
import { main, params, report } from '../support/child';

const WARMUP = 1_000;

const BILL = { category: 'ci', eventType: 'ci_minutes', realm: 'SaaS', unitOfMeasure: 'minute', quantity: 2 } as const;

interface Params {
  storage: 'sqlite' | 'memory';
  kind: 'custom' | 'billing';
  deadPort: number;
  events: number;
  chunk: number;
}

main(async () => {
  const p = params<Params>();
  const dir = mkdtempSync(join(tmpdir(), 'bench-durable-'));
  const path = join(dir, 'outbox.db');
  const emitter = new Emitter({
    collectorUrl: `http://127.0.0.1:${p.deadPort}/com.snowplowanalytics.snowplow/tp2`,
    storage:
      p.storage === 'sqlite'
        ? { type: 'sqlite', path, capacity: p.events + WARMUP }
        : { type: 'memory', capacity: p.events + WARMUP },
    billing: { capacity: p.events + WARMUP },
    logger: { warn: () => undefined, error: () => undefined },
  });
  const tracker = new Tracker({ appId: 'bench', emitter });
  const track =
    p.kind === 'billing'
      ? () =>
          tracker.trackBillingEventWithOptionalInput(BILL, {
            projectId: 42,
            namespaceId: 7,
            metadata: { plan: 'premium' },
          })
      : () => tracker.trackEvent('bench_click', { plan: 'premium', seats: 3 });
  for (let i = 0; i < WARMUP; i++) track();
  await nextTick();
  const before = emitter.queueDepth;
  const started = process.hrtime.bigint();
  for (let done = 0; done < p.events; done += p.chunk) {
    for (let i = 0; i < p.chunk; i++) track();
    // Each tick's custom events are written in one transaction when the tick ends.
    await nextTick();
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const held = emitter.queueDepth - before;
  await emitter.stop();
  const fileBytes = p.storage === 'sqlite' ? statSync(path).size : 0;
  rmSync(dir, { recursive: true, force: true });
  await report({ type: 'result', eventsPerSecond: p.events / seconds, held, fileBytes });
});
