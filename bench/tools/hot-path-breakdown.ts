/**
 * Where a `trackEvent` call spends its time: the call with the real Emitter (loop not started,
 * so nothing is sent), the call with a sink that drops the payload, and the steps it is made of,
 * each timed alone. Steps run interleaved, in rounds, in one process; medians are printed.
 *
 *   npm run build && node -r ./bench/register.js bench/tools/hot-path-breakdown.ts [--rounds 7] [--calls 200000]
 *
 * The "candidate" lines time alternatives proposed in bench/README.md (written here, not in lib/).
 */
import { randomUUID } from 'node:crypto';
import type * as OurModule from 'nestjs-snowplow';

const ours = require('nestjs-snowplow') as typeof OurModule;

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

const emitter = new ours.Emitter({
  collectorUrl: 'http://127.0.0.1:9/com.snowplowanalytics.snowplow/tp2',
  capacity: 10_000,
  logger: { warn: () => undefined, error: () => undefined },
});
const trackerWithEmitter = new ours.Tracker({ appId: 'bench', emitter });
const EID_AT = '{"e":"ue","eid":"'.length;
const nullSink: OurModule.EventSink = { enqueue: keep };
const trackerWithNullSink = new ours.Tracker({ appId: 'bench', emitter: nullSink });
const flatEidEmitter = new ours.Emitter({
  collectorUrl: 'http://127.0.0.1:9/com.snowplowanalytics.snowplow/tp2',
  capacity: 10_000,
  logger: { warn: () => undefined, error: () => undefined },
});
// Candidate, the eid part alone: today's Tracker, the eid re-taken as a view of the (flattened) payload.
const trackerWithFlatEid = new ours.Tracker({
  appId: 'bench',
  emitter: {
    enqueue: (p) => flatEidEmitter.enqueue({ eid: p.json.slice(EID_AT, EID_AT + 36), dtm: p.dtm, json: p.json }),
  },
});
const candidateEmitter = new ours.Emitter({
  collectorUrl: 'http://127.0.0.1:9/com.snowplowanalytics.snowplow/tp2',
  capacity: 10_000,
  logger: { warn: () => undefined, error: () => undefined },
});

const WRAPPER_HEAD = `{"schema":"${ours.SCHEMAS.unstructEvent}","data":{"schema":"${ours.SCHEMAS.customEvent}","data":`;
const sampleInner = `{"name":${JSON.stringify(NAME)},"props":${JSON.stringify(PROPS)}}`;
const sampleWrapper = `${WRAPPER_HEAD}${sampleInner}}}`;
const sampleJson = (trackerWithNullSink as unknown as { writer: OurModule.PayloadWriter }).writer.write(
  'ue',
  randomUUID(),
  Date.now(),
  `"ue_px":"${ours.encodeBase64(sampleWrapper)}"`,
).json;

// Inconclusive across runs here (not proposed): base64 of the constant wrapper head computed once. Base64
// maps each 3 input bytes to 4 output characters, so the head is cut at a multiple of 3.
const headCut = WRAPPER_HEAD.length - (WRAPPER_HEAD.length % 3);
const headB64 = Buffer.from(WRAPPER_HEAD.slice(0, headCut), 'latin1').toString('base64url');
const headRest = WRAPPER_HEAD.slice(headCut);
function uePxPrecomputedHead(inner: string): string {
  return headB64 + Buffer.from(`${headRest}${inner}}}`, 'utf8').toString('base64url');
}

// Candidate: the whole trackEvent path with the proposed changes: the quoted name cached per name,
// the payload flattened once and the eid taken from it as a 36-character view of the payload.
const quotedNames = new Map<string, string>();
const common = `"p":"srv","tna":"gitlab","aid":"bench","tv":${JSON.stringify(ours.TRACKER_VERSION)},"ua":${JSON.stringify(ours.DEFAULT_USER_AGENT)}`;
function candidateTrackEvent(name: string, props: Record<string, unknown>, sink: OurModule.EventSink): { eid: string } {
  let quoted = quotedNames.get(name);
  if (quoted === undefined) {
    if (typeof name !== 'string' || name.trim() === '' || name.length > ours.MAX_EVENT_NAME_LENGTH)
      throw new Error('bad name');
    quoted = JSON.stringify(name);
    if (quotedNames.size < 1024) quotedNames.set(name, quoted);
  }
  if (Object.getPrototypeOf(props) !== Object.prototype) throw new Error('bad props');
  const uePx = ours.encodeBase64(`${WRAPPER_HEAD}{"name":${quoted},"props":${JSON.stringify(props)}}}}`);
  const dtm = Date.now();
  const json = `{"e":"ue","eid":"${randomUUID()}","dtm":"${dtm}",${common},"ue_px":"${uePx}"}`;
  // slice() flattens the payload once; the eid is then a 36-character view of it.
  const eid = json.slice(EID_AT, EID_AT + 36);
  sink.enqueue({ eid, dtm, json });
  return { eid };
}

const steps: Array<[string, () => void]> = [
  ['trackEvent, real Emitter (not started, 10,000 held)', () => keep(trackerWithEmitter.trackEvent(NAME, PROPS))],
  ['trackEvent + flat eid only, real Emitter (10,000 held)', () => keep(trackerWithFlatEid.trackEvent(NAME, PROPS))],
  [
    'candidate trackEvent, real Emitter (not started, 10,000 held)',
    () => keep(candidateTrackEvent(NAME, PROPS, candidateEmitter)),
  ],
  ['trackEvent, sink that keeps the payload', () => keep(trackerWithNullSink.trackEvent(NAME, PROPS))],
  ['candidate trackEvent, sink that keeps the payload', () => keep(candidateTrackEvent(NAME, PROPS, nullSink))],
  ['  randomUUID()', () => keep(randomUUID())],
  ['  Date.now()', () => keep(Date.now())],
  ['  JSON.stringify(props)', () => keep(JSON.stringify(PROPS))],
  ['  JSON.stringify(name)', () => keep(JSON.stringify(NAME))],
  [
    '  encodeBase64(wrapper) (Buffer.from + base64url)',
    () => keep(ours.encodeBase64(`${WRAPPER_HEAD}${sampleInner}}}`)),
  ],
  ['  Buffer.byteLength(payload json) (enqueue)', () => keep(Buffer.byteLength(`${sampleJson}`, 'utf8'))],
  ['inconclusive: base64 with the head encoded once', () => keep(uePxPrecomputedHead(sampleInner))],
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
console.log(`payload json: ${sampleJson.length} chars; wrapper: ${sampleWrapper.length} chars`);
void emitter.stop();
void candidateEmitter.stop();
void flatEidEmitter.stop();
