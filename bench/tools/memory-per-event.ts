/**
 * Heap bytes per queued event, today and with the event id stored flat (emulated from outside
 * lib/ by a sink that re-takes the eid from the payload), and what a `crypto.randomUUID()` string
 * costs on its own. 10,000 events into an Emitter whose loop is not started; GC before reading.
 *
 *   npm run build && node --expose-gc -r ./bench/register.js bench/tools/memory-per-event.ts
 */
import { randomUUID } from 'node:crypto';
import type * as OurModule from 'nestjs-snowplow';

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) {
  console.error('run with node --expose-gc');
  process.exit(2);
}
const collect = gc;

const ours = require('nestjs-snowplow') as typeof OurModule;
const N = 10_000;
const EID_AT = '{"e":"ue","eid":"'.length;

function heapUsed(): number {
  collect();
  collect();
  return process.memoryUsage().heapUsed;
}

/** One measurement in its own frame, so that nothing it holds outlives it into the next one. */
function bytesHeld(fill: () => unknown): number {
  const before = heapUsed();
  const held = fill();
  const after = heapUsed();
  if (held === undefined) throw new Error('nothing held');
  return after - before;
}

function perEvent(label: string, fill: () => unknown): void {
  const samples: number[] = [];
  for (let round = 0; round < 3; round++) samples.push(bytesHeld(fill) / N);
  samples.sort((a, b) => a - b);
  console.log(`${label.padEnd(58)} ${samples[1].toFixed(0).padStart(6)} B per event (median of 3)`);
}

function emitterWith(flatEid: boolean): () => unknown {
  return () => {
    const emitter = new ours.Emitter({
      collectorUrl: 'http://127.0.0.1:9/com.snowplowanalytics.snowplow/tp2',
      capacity: N,
      logger: { warn: () => undefined, error: () => undefined },
    });
    const sink: OurModule.EventSink = flatEid
      ? { enqueue: (p) => emitter.enqueue({ eid: p.json.slice(EID_AT, EID_AT + 36), dtm: p.dtm, json: p.json }) }
      : emitter;
    const tracker = new ours.Tracker({ appId: 'bench', emitter: sink });
    for (let i = 0; i < N; i++) tracker.trackEvent('bench_click', { plan: 'premium', seats: 3 });
    if (emitter.queueDepth !== N) throw new Error(`expected ${N} queued, got ${emitter.queueDepth}`);
    return emitter;
  };
}

perEvent('queued event, today', emitterWith(false));
perEvent('queued event, eid as a 36-char view of the flat payload', emitterWith(true));
perEvent('crypto.randomUUID() string, as returned', () => Array.from({ length: N }, () => randomUUID()));
perEvent('crypto.randomUUID() string, flattened', () =>
  Array.from({ length: N }, () => {
    const id = randomUUID();
    Buffer.byteLength(id, 'utf8'); // flattens the string in place
    return id;
  }),
);
