/**
 * Where a `trackEvent` call spends its time, and what the same event costs later when it is sent:
 * the call with the real Emitter (loop not started, so nothing is sent), the call with a sink that
 * keeps the payload, the steps it is made of, and the send-time work per event (writing the
 * payload text with its base64 `ue_px`, serialising a batch body). Each is timed alone, in rounds,
 * interleaved, in one process; medians are printed.
 *
 *   npm run build && node -r ./bench/register.js bench/tools/hot-path-breakdown.ts [--rounds 7] [--calls 200000]
 *
 * It loads dist/, internal files by path (they are not public API and may move).
 */
import { randomUUID } from 'node:crypto';
import type * as CoreModule from 'nestjs-snowplow/core';
import type * as BatchBodyModule from '../../lib/emitter/batch-body';
import type * as EventRulesModule from '../../lib/validation/event-rules';

const core = require('nestjs-snowplow/core') as typeof CoreModule;
const { serialiseBatch } = require('../../dist/emitter/batch-body') as typeof BatchBodyModule;
const { jsonObjectText } = require('../../dist/validation/event-rules') as typeof EventRulesModule;

const NAME = 'bench_click';
const PROPS: Record<string, unknown> = { plan: 'premium', seats: 3 };

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  return i === -1 ? fallback : Number(process.argv[i + 1]);
}

const rounds = arg('--rounds', 7);
const calls = arg('--calls', 200_000);

const sinkStore: unknown[] = new Array(1024).fill(undefined);
let sinkIndex = 0;
const keep = (value: unknown): void => {
  sinkStore[sinkIndex++ & 1023] = value;
};

const silent = { warn: () => undefined, error: () => undefined };
const emitter = new core.Emitter({
  collectorUrl: 'http://127.0.0.1:9/com.snowplowanalytics.snowplow/tp2',
  logger: silent,
});
const withEmitter = new core.Tracker({ appId: 'bench', emitter });
const withSink = new core.Tracker({ appId: 'bench', emitter: { enqueue: keep } });

// Events as the emitter queues them (a custom event is the tracker's own object), for the send-time steps.
const queued: CoreModule.QueuedEvent[] = [];
const collecting = new core.Tracker({
  appId: 'bench',
  emitter: { enqueue: (p) => queued.push(p as unknown as CoreModule.QueuedEvent) },
});
for (let i = 0; i < 100; i++) collecting.trackEvent(NAME, PROPS);
const propsJson = JSON.stringify(PROPS);
let next = 0;

const steps: Array<[string, () => void]> = [
  ['trackEvent, real Emitter (not started, ring buffer full)', () => keep(withEmitter.trackEvent(NAME, PROPS))],
  ['trackEvent, sink that keeps the payload', () => keep(withSink.trackEvent(NAME, PROPS))],
  ['  randomUUID()', () => keep(randomUUID())],
  [
    '  randomUUID() + flatten (charCodeAt)',
    () => {
      const id = randomUUID();
      id.charCodeAt(0);
      keep(id);
    },
  ],
  ['  Date.now()', () => keep(Date.now())],
  ['  JSON.stringify(props)', () => keep(JSON.stringify(PROPS))],
  ["  jsonObjectText('props', props) (plain-object check + stringify)", () => keep(jsonObjectText('props', PROPS))],
  ['  Buffer.byteLength(props JSON)', () => keep(Buffer.byteLength(propsJson, 'utf8'))],
  ['send time: the payload text of a queued event (base64 ue_px)', () => keep(queued[next++ % 100].json)],
  [
    'send time: serialiseBatch, per event of a 100-event batch',
    () => {
      // One call in a hundred builds a whole body, so the per-call figure is per event.
      if (next++ % 100 === 0) keep(serialiseBatch(queued, Date.now()));
    },
  ],
];

function timeStep(fn: () => void, n: number): number {
  const started = process.hrtime.bigint();
  for (let i = 0; i < n; i++) fn();
  return Number(process.hrtime.bigint() - started) / n;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

const results = new Map<string, number[]>(steps.map(([name]) => [name, []]));
for (const [, fn] of steps) timeStep(fn, Math.min(calls, 50_000));
for (let round = 0; round < rounds; round++) {
  const order = round % 2 ? [...steps].reverse() : steps;
  for (const [name, fn] of order) results.get(name)!.push(timeStep(fn, calls));
  process.stderr.write(`round ${round + 1}/${rounds}\n`);
}
const width = Math.max(...steps.map(([name]) => name.length));
console.log(`${'step'.padEnd(width)}  ns/call (median of ${rounds} rounds × ${calls.toLocaleString('en-US')})`);
for (const [name] of steps) console.log(`${name.padEnd(width)}  ${median(results.get(name)!).toFixed(0).padStart(7)}`);
void emitter.stop();
