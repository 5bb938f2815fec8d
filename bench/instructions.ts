/**
 * `npm run bench:instructions`: the regression figures of record. Instructions counted by
 * `valgrind --tool=callgrind` (callgrind's total `Ir`: user-space instructions of one process,
 * whatever the machine's load) for nestjs-snowplow and @snowplow/node-tracker side by side:
 *
 *   - per `trackEvent` (into the library's own queue, nothing sent), and per self-describing event
 *     with two entities (`trackSelfDescribingEvent`; node-tracker's `track` with two contexts);
 *   - per delivered event at a fixed batch size of 100 and of 1,000 (track a batch, wait until the
 *     bench collector, another process, has it, repeat; every event checked at the collector);
 *   - per `@TrackEvent` request through a real Nest app (ours; only the app's process is counted,
 *     the load comes from this one), and its split (issue 27): the same app's routes without
 *     `@TrackEvent`, with a pass-through interceptor, with a `@TrackEvent` that sends nothing, each
 *     with the module's request context off and on; the report subtracts them.
 *
 * Every figure is marginal. One measured process per figure and subject, under callgrind with
 * `--trace-children=no`, node `--single-threaded`: after its warm-up it does N and 2N units of work
 * in turn (N, 2N, 2N, N, N, 2N for 3 pairs), and callgrind dumps the count of each interval
 * (`callgrind_control -d`) while the process waits idle. (Ir(2N) − Ir(N)) / N per pair cancels what
 * every interval has in common (the marks); the figure is the median of the pairs. The instructions
 * of V8's optimising compiler (calls into `Runtime_CompileOptimized*`, read from each interval's
 * call graph) are left out: it keeps compiling the send path's functions one by one long after any
 * practical warm-up (bench/README.md). Exits non-zero when a measurement failed or a run did not
 * deliver every event.
 *
 *   INSTR_PAIRS=n           pairs per figure (default 3)
 *   INSTR_FIGURES=a,b       only these figures (track, trackSd, batch100, batch1000, request,
 *                           requestPlain, requestNoop, requestSkipped, requestContext,
 *                           requestContextSkipped; `requestSplit` stands for the last five)
 *   INSTR_SUBJECTS=a,b      only these subjects (ours, node-tracker)
 *   INSTR_JOBS=n            measured processes at once (default: the CPU count; counts do not depend on it)
 *   INSTR_SCALE=x           multiply every N and warm-up (e.g. 0.1 for a smoke run: not a result)
 *   INSTR_DIST=path         measure this build of the library instead of ./dist (e.g. an old commit's)
 *   INSTR_OUT=file          also write the report to this file
 */
import { execFileSync } from 'node:child_process';
import { fork } from 'node:child_process';
import { Agent, request } from 'node:http';
import { availableParallelism, cpus, loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { writeFileSync } from 'node:fs';
import { BUILD_DIR, buildChildren } from './build';
import { CallgrindChild, Count, ensureValgrind, Interval, NODE_FLAGS, runUnderCallgrind } from './support/callgrind';
import { CollectorClient, CollectorStats } from './support/collector-client';
import { fmt, max, median, min, table } from './support/stats';
import { nodeTrackerVersion } from './support/subjects';
import { NODE_TRACKER_MAX_POST_BYTES } from './support/instruction-subjects';
import { instructionTargetsSection } from './support/instruction-targets';

type SubjectName = 'ours' | 'node-tracker';
type FigureId =
  | 'track'
  | 'trackSd'
  | 'batch100'
  | 'batch1000'
  | 'request'
  | 'requestPlain'
  | 'requestNoop'
  | 'requestSkipped'
  | 'requestContext'
  | 'requestContextSkipped';

/** The request figures without delivery that split the `@TrackEvent` request (issue 27). */
const REQUEST_SPLIT: readonly FigureId[] = [
  'requestPlain',
  'requestNoop',
  'requestSkipped',
  'requestContext',
  'requestContextSkipped',
];

/** The route of the instructions app each request figure loads, and whether the module opens request contexts. */
const REQUEST_ROUTES: Partial<Record<FigureId, { route: string; context: boolean }>> = {
  request: { route: 'tracked', context: true },
  requestPlain: { route: 'plain', context: false },
  requestNoop: { route: 'noop', context: false },
  requestSkipped: { route: 'skipped', context: false },
  requestContext: { route: 'plain', context: true },
  requestContextSkipped: { route: 'skipped', context: true },
};

/**
 * One measured process: after its warm-up, one measured interval per entry of `sizes` (units of
 * work: calls, events, requests), each counted on its own; returns their instruction counts.
 */
type Measure = (sizes: number[]) => Promise<Count[]>;

interface Plan {
  figure: FigureId;
  subject: SubjectName;
  /** N: units of work (calls, events, requests) in the smaller interval of a pair; the larger does 2N. */
  units: number;
  /** What the warm-up and N are, for the report. */
  sizes: string;
  measure: Measure;
}

const FIGURES: Record<FigureId, string> = {
  track: 'per `trackEvent` (nothing sent)',
  trackSd: 'per `trackSelfDescribingEvent`, two entities (nothing sent)',
  batch100: 'per delivered event, batches of 100',
  batch1000: 'per delivered event, batches of 1,000',
  request: 'per `@TrackEvent` request (Nest + Express, pass-through handler, batches of 100)',
  requestPlain: 'per request, `GET /plain`, request context off (no interceptor)',
  requestNoop: 'per request, `GET /noop`, request context off (a pass-through interceptor)',
  requestSkipped: "per request, `GET /skipped`, request context off (`@TrackEvent` with `on: 'error'`: no event)",
  requestContext: 'per request, `GET /plain`, request context on (defaults; no interceptor of its own)',
  requestContextSkipped: "per request, `GET /skipped`, request context on (`@TrackEvent` with `on: 'error'`: no event)",
};

const started = Date.now();

function log(message: string): void {
  const seconds = ((Date.now() - started) / 1000).toFixed(1).padStart(6);
  process.stderr.write(`[instructions ${seconds}s] ${message}\n`);
}

function envList<T extends string>(name: string, all: readonly T[]): T[] {
  const raw = process.env[name]?.trim();
  if (!raw) return [...all];
  const wanted = raw.split(',').map((s) => s.trim());
  const unknown = wanted.filter((w) => !all.includes(w as T));
  if (unknown.length) throw new Error(`${name}: unknown ${unknown.join(', ')} (known: ${all.join(', ')})`);
  return all.filter((a) => wanted.includes(a));
}

function envNumber(name: string, fallback: number, integer = true): number {
  const raw = process.env[name];
  if (!raw) return fallback;
  const value = Number(raw);
  if (!(value > 0) || (integer && !Number.isInteger(value))) throw new Error(`${name} must be a positive number`);
  return value;
}

/** The bench collector in a process of its own, for one measured process (its counts are that process's). */
async function startSink(): Promise<{ client: CollectorClient; stop: () => void }> {
  const proc = fork(join(BUILD_DIR, 'collector.js'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const port = await new Promise<number>((resolvePort, reject) => {
    proc.once('message', (m: { port: number }) => resolvePort(m.port));
    proc.once('exit', (code) => reject(new Error(`collector exited with code ${code}`)));
  });
  return { client: new CollectorClient(port), stop: () => proc.kill('SIGTERM') };
}

/** Every event at the collector, once: otherwise the run is not a result (and the script fails). */
function checkDelivery(what: string, stats: CollectorStats, expected: number, requests?: number): void {
  const problems: string[] = [];
  if (stats.unique !== expected) problems.push(`${fmt(stats.unique)} of ${fmt(expected)} events arrived`);
  if (stats.duplicates !== 0) problems.push(`${fmt(stats.duplicates)} duplicates`);
  if (problems.length) throw new Error(`${what}: ${problems.join(', ')}`);
  if (requests !== undefined && stats.requests !== requests) {
    log(`note: ${what}: ${fmt(stats.requests)} requests for ${fmt(requests)} batches`);
  }
  // One keep-alive connection for the whole run: a reconnection would be counted in some interval.
  log(
    `${what}: ${fmt(stats.unique)} events, ${fmt(stats.requests)} requests on ${fmt(stats.connections)} connection(s)`,
  );
}

const scaled = (value: number, scale: number) => Math.max(1, Math.round(value * scale));

/** The child's measured intervals (each after a `setup` interval, which is not used). */
function workIntervals(intervals: Interval[], expected: number): Count[] {
  const work = intervals.filter((i) => i.label !== 'setup');
  if (work.length !== expected) throw new Error(`${work.length} measured intervals, expected ${expected}`);
  return work;
}

/** Per track call: `trackEvent` (`track`), or a self-describing event with two entities (`trackSd`). */
function trackPlan(figure: 'track' | 'trackSd', subject: SubjectName, scale: number): Plan {
  // node-tracker's track call costs ~20× ours: fewer calls keep its process short (it serves the ratio).
  const [warmup, calls] = subject === 'ours' ? [20_000, 10_000] : [1_000, 500];
  const w = scaled(warmup, scale);
  const n = scaled(calls, scale);
  return {
    figure,
    subject,
    units: n,
    sizes: `${fmt(w)} warm-up calls, 3 rehearsals of 2N; N = ${fmt(n)} calls`,
    measure: async (sizes) => {
      const { intervals } = await runUnderCallgrind('instructions-track.ts', {
        subject,
        event: figure === 'trackSd' ? 'selfDescribing' : 'custom',
        warmup: w,
        sizes,
        chunk: 1_000,
      });
      return workIntervals(intervals, sizes.length);
    },
  };
}

function deliveryPlan(subject: SubjectName, batch: 100 | 1_000, scale: number): Plan {
  // [single-event batches, full batches] of warm-up, N (batches). The send path's per-request code
  // runs once per batch: single-event batches get it optimised quickly (see the child).
  const sizes: Record<SubjectName, Record<number, [number, number, number]>> = {
    ours: { 100: [500, 200, 60], 1_000: [500, 20, 6] },
    'node-tracker': { 100: [300, 20, 10], 1_000: [300, 2, 1] },
  };
  const [prime, warmup, batches] = sizes[subject][batch];
  const p = scaled(prime, scale);
  const w = scaled(warmup, scale);
  const n = scaled(batches, scale);
  return {
    figure: batch === 100 ? 'batch100' : 'batch1000',
    subject,
    units: n * batch,
    sizes: `warm-up ${fmt(p)} batches of 1 event, then ${fmt(w)} batches; N = ${fmt(n)} batches (${fmt(n * batch)} events)`,
    measure: async (events) => {
      const sink = await startSink();
      try {
        const perInterval = events.map((e) => e / batch);
        const { result, intervals } = await runUnderCallgrind<{ type: 'result'; tracked: number }>(
          'instructions-delivery.ts',
          {
            subject,
            collectorPort: sink.client.port,
            batch,
            primeBatches: p,
            warmupBatches: w,
            sizes: perInterval,
          },
        );
        const fullBatches = w + perInterval.reduce((a, b) => a + b, 0);
        const total = p + fullBatches * batch;
        if (result.tracked !== total) throw new Error(`${subject}: tracked ${result.tracked}, expected ${total}`);
        const stats = await sink.client.waitFor(total, { quietMs: 2_000, timeoutMs: 30_000 });
        checkDelivery(`${subject}, batches of ${batch}`, stats, total, p + fullBatches);
        return workIntervals(intervals, events.length);
      } finally {
        sink.stop();
      }
    },
  };
}

/** One GET on a keep-alive agent; resolves with the status once the body is read. */
function get(agent: Agent, port: number, path: string): Promise<number> {
  return new Promise((resolveStatus, reject) => {
    const req = request({ host: '127.0.0.1', port, path, agent }, (res) => {
      res.resume();
      res.on('end', () => resolveStatus(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
}

/**
 * A request figure: `GET /<route>` of the instructions app. `/tracked` sends one event per request
 * (the collector must get every one); the other routes send none, and their warm-up is the same
 * number of requests in groups of 100.
 */
function requestPlan(figure: FigureId, scale: number): Plan {
  const { route, context } = REQUEST_ROUTES[figure]!;
  const delivers = route === 'tracked';
  const batch = 100;
  // Warm-up: `p` requests each sent as a batch of its own (the send path's per-request code runs
  // as often as the app's), then `w` groups of 100; N = `n` groups. Without events, `p` requests
  // are `p / batch` more groups.
  const p = delivers ? scaled(500, scale) : 0;
  const w = delivers ? scaled(10, scale) : scaled(15, scale);
  const n = scaled(3, scale);
  return {
    figure,
    subject: 'ours',
    units: n * batch,
    sizes: delivers
      ? `warm-up ${fmt(p)} requests, each event sent alone, then ${fmt(w * batch)} requests; ` +
        `N = ${fmt(n * batch)} requests, in groups of ${batch}`
      : `warm-up ${fmt(w * batch)} requests; N = ${fmt(n * batch)} requests; no events`,
    measure: async (sizes) => {
      const sink = await startSink();
      const app = new CallgrindChild('instructions-app.ts', { collectorPort: sink.client.port, batch, context });
      const agent = new Agent({ keepAlive: true, maxSockets: 1 });
      let sent = 0;
      let batches = 0;
      const tracked = async (port: number) => {
        const status = await get(agent, port, `/${route}`);
        if (status !== 200) throw new Error(`GET /${route} answered ${status}`);
        if (delivers) sent++;
      };
      const atCollector = async () => {
        if (!delivers) return;
        const stats = await sink.client.waitFor(sent, { quietMs: 300_000, timeoutMs: 600_000 });
        if (stats.unique !== sent)
          throw new Error(`${figure}: ${fmt(stats.unique)} of ${fmt(sent)} events at the collector`);
      };
      const ask = async (type: string, answer: string) => {
        app.child.send({ type });
        await app.child.next(answer, 600_000);
      };
      /** `groups` groups of `batch` requests, each group's batch at the collector before the next group. */
      const load = async (groups: number, port: number) => {
        for (let g = 0; g < groups; g++) {
          for (let i = 0; i < batch; i++) await tracked(port);
          if (delivers) batches++;
          await atCollector();
        }
      };
      try {
        const { port } = await app.child.next<{ type: 'listening'; port: number }>('listening', 1_800_000);
        for (let i = 0; i < p; i++) {
          await tracked(port);
          await ask('settle', 'settled'); // drain(): sends the one event now (no linger)
          batches++;
        }
        await atCollector();
        await load(w, port);
        const work: Count[] = [];
        // A full GC before each interval, unlike the delivery figures: without it, the same
        // interval counted 266–356 million instructions (TurboFan left out) in three runs,
        // probably V8's incremental marking of the Nest app's larger heap during the interval,
        // whose steps it sizes by measured wall-clock speed. The optimised code the GC throws away
        // is compiled again inside the interval, and TurboFan is left out of the figure.
        for (const requests of sizes) {
          await ask('settle', 'settled');
          await ask('gc', 'collected');
          await app.dump(); // start-up, warm-up or the previous interval's end: not used
          await load(requests / batch, port);
          await ask('settle', 'settled');
          work.push(await app.dump());
        }
        agent.destroy();
        app.child.send({ type: 'stop' });
        const result = await app.child.next<{ type: 'result'; enqueued: number; sent: number }>('result', 600_000);
        await app.finish();
        checkDelivery(figure, await sink.client.stats(), sent, batches);
        if (result.sent !== sent) throw new Error(`${figure}: the app sent ${result.sent} of ${sent}`);
        return work;
      } catch (err) {
        app.kill();
        throw err;
      } finally {
        agent.destroy();
        sink.stop();
      }
    },
  };
}

/** The figures asked for, `requestSplit` expanded (each figure once, in the order of `FIGURES`). */
function requestFigures(asked: Array<FigureId | 'requestSplit'>): FigureId[] {
  const wanted = new Set<FigureId>(asked.flatMap((f) => (f === 'requestSplit' ? REQUEST_SPLIT : [f])));
  return (Object.keys(FIGURES) as FigureId[]).filter((f) => wanted.has(f));
}

/**
 * The split of the `@TrackEvent` request (issue 27), from the request figures measured: each line
 * the difference of two medians (instructions per request), given when both were measured.
 */
function requestSplitText(results: FigureResult[]): string[] {
  const per = (figure: FigureId): number | undefined => {
    const r = results.find((x) => x.plan.figure === figure && x.plan.subject === 'ours');
    return r && r.perUnit.length ? median(r.perUnit) : undefined;
  };
  const lines: Array<[string, FigureId, FigureId]> = [
    ['a pass-through interceptor (what any interceptor costs in Nest)', 'requestNoop', 'requestPlain'],
    [
      'the request context, over a pass-through interceptor (an untracked route, defaults)',
      'requestContext',
      'requestNoop',
    ],
    [
      "`@TrackEvent`'s own interceptor, over a pass-through (no event; request context off)",
      'requestSkipped',
      'requestNoop',
    ],
    [
      "`@TrackEvent`'s own interceptor, request context on, over the context alone (no event)",
      'requestContextSkipped',
      'requestContext',
    ],
    [
      'the track call and its share of delivery (batches of 100), request context on',
      'request',
      'requestContextSkipped',
    ],
  ];
  const rows = lines.flatMap(([what, a, b]) => {
    const x = per(a);
    const y = per(b);
    if (x === undefined || y === undefined) return [];
    return [[what, `${fmt(x - y)}`, `${a} − ${b}`]];
  });
  if (!rows.length) return [];
  return [
    'The `@TrackEvent` request, split (differences of the medians above, instructions per request):',
    '',
    table(['part', 'instructions per request', 'figures'], rows),
    '',
  ];
}

/** Runs tasks with at most `jobs` at once, in order. */
async function pool<T>(tasks: Array<() => Promise<T>>, jobs: number): Promise<PromiseSettledResult<T>[]> {
  const results: PromiseSettledResult<T>[] = new Array(tasks.length);
  let next = 0;
  const worker = async () => {
    while (next < tasks.length) {
      const i = next++;
      try {
        results[i] = { status: 'fulfilled', value: await tasks[i]() };
      } catch (reason) {
        results[i] = { status: 'rejected', reason };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(jobs, tasks.length) }, worker));
  return results;
}

function gitState(): string {
  const git = (...args: string[]) =>
    execFileSync('git', args, { cwd: join(__dirname, '..'), encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  try {
    const commit = git('rev-parse', '--short', 'HEAD').trim();
    const dirty = git('status', '--porcelain', '--untracked-files=no').trim();
    return `commit \`${commit}\`${dirty ? ' + **uncommitted changes**' : ' (clean tree)'}`;
  } catch {
    return 'not a git checkout';
  }
}

interface FigureResult {
  plan: Plan;
  /** Marginal instructions per unit, one per pair, the optimising compiler's excluded: the figure. */
  perUnit: number[];
  /** The same with the compiler's instructions (all of callgrind's Ir). */
  perUnitRaw: number[];
  /** Counts of each pair's intervals: [N, 2N]. */
  totals: Array<[Count, Count]>;
  error?: string;
}

/** `median (min–max, ±spread %)`; spread = (max − min) / median. */
function spreadText(values: number[]): string {
  if (values.length === 0) return 'n/a';
  const m = median(values);
  if (values.length === 1) return fmt(m);
  return `**${fmt(m)}** (${fmt(min(values))}–${fmt(max(values))}, ${fmt(spreadPercent(values), 1)} %)`;
}

function spreadPercent(values: number[]): number {
  return ((max(values) - min(values)) / median(values)) * 100;
}

async function main(): Promise<number> {
  const pairs = envNumber('INSTR_PAIRS', 3);
  const jobs = envNumber('INSTR_JOBS', availableParallelism());
  const scale = envNumber('INSTR_SCALE', 1, false);
  const figures = requestFigures(
    envList<FigureId | 'requestSplit'>('INSTR_FIGURES', [
      'track',
      'trackSd',
      'batch100',
      'batch1000',
      'request',
      'requestSplit',
      ...REQUEST_SPLIT,
    ]),
  );
  const subjects = envList<SubjectName>('INSTR_SUBJECTS', ['ours', 'node-tracker']);
  const distDir = process.env.INSTR_DIST ? resolve(process.env.INSTR_DIST) : undefined;
  const startedAt = new Date();
  const loadAtStart = loadavg().map((l) => l.toFixed(2));
  const valgrind = ensureValgrind(log);
  buildChildren({
    distDir,
    include: (file) => file === 'collector.ts' || file.startsWith('support') || /children\/instructions-/.test(file),
  });

  const plans: Plan[] = [];
  for (const figure of figures) {
    for (const subject of subjects) {
      if (figure === 'track' || figure === 'trackSd') plans.push(trackPlan(figure, subject, scale));
      if (figure === 'batch100') plans.push(deliveryPlan(subject, 100, scale));
      if (figure === 'batch1000') plans.push(deliveryPlan(subject, 1_000, scale));
      if (REQUEST_ROUTES[figure] && subject === 'ours') plans.push(requestPlan(figure, scale));
    }
  }
  log(
    `${valgrind}; ${plans.length} measured processes, ${pairs} pairs (N, 2N) each, ${jobs} at a time; scale ${scale}`,
  );

  // One measured process per figure and subject; its intervals alternate N, 2N / 2N, N per pair.
  const order = (n: number) => Array.from({ length: pairs }, (_, p) => (p % 2 ? [2 * n, n] : [n, 2 * n])).flat();
  const tasks = plans.map((plan) => async () => {
    const t0 = Date.now();
    const sizes = order(plan.units);
    const irs = await plan.measure(sizes);
    log(
      `${plan.figure} ${plan.subject}: ${((Date.now() - t0) / 1000).toFixed(1)} s; intervals (Ir, of which TurboFan): ` +
        irs.map((c, i) => `${sizes[i] === plan.units ? 'N' : '2N'} ${fmt(c.ir)} (${fmt(c.compileIr)})`).join(', '),
    );
    return { sizes, irs };
  });
  // The longest first (the Nest app's start-up alone is ~4.5 billion instructions), so that the
  // shorter ones fill the other slots meanwhile; the report keeps the figures' order.
  const longest = plans
    .map((plan, i) => ({ i, first: REQUEST_ROUTES[plan.figure] ? 0 : 1 }))
    .sort((a, b) => a.first - b.first);
  const outcomes = await pool(
    longest.map(({ i }) => tasks[i]),
    jobs,
  );
  const settled = plans.map((_, i) => outcomes[longest.findIndex((l) => l.i === i)]);

  const results: FigureResult[] = plans.map((plan, i) => {
    const outcome = settled[i];
    if (outcome.status === 'rejected') {
      const message = outcome.reason instanceof Error ? outcome.reason.message : String(outcome.reason);
      log(`FAILED: ${plan.figure} ${plan.subject}: ${message}`);
      return { plan, perUnit: [], perUnitRaw: [], totals: [], error: message };
    }
    const { sizes, irs } = outcome.value;
    const totals: Array<[Count, Count]> = [];
    for (let p = 0; p < pairs; p++) {
      const [a, b] = [2 * p, 2 * p + 1];
      totals.push(sizes[a] < sizes[b] ? [irs[a], irs[b]] : [irs[b], irs[a]]);
    }
    const net = (c: Count) => c.ir - c.compileIr;
    return {
      plan,
      totals,
      perUnit: totals.map(([n, n2]) => (net(n2) - net(n)) / plan.units),
      perUnitRaw: totals.map(([n, n2]) => (n2.ir - n.ir) / plan.units),
    };
  });

  const find = (figure: FigureId, subject: SubjectName) =>
    results.find((r) => r.plan.figure === figure && r.plan.subject === subject);
  const cell = (r: FigureResult | undefined) => (!r ? '—' : r.error ? `**failed**: ${r.error}` : spreadText(r.perUnit));
  const rows = figures.map((figure) => {
    const ours = find(figure, 'ours');
    const theirs = find(figure, 'node-tracker');
    const ratio =
      ours && theirs && ours.perUnit.length && theirs.perUnit.length
        ? `${fmt(median(theirs.perUnit) / median(ours.perUnit), 1)}×`
        : '—';
    const steady = ours && ours.perUnit.length > 1 ? (spreadPercent(ours.perUnit) <= 3 ? 'yes' : '**no**') : '—';
    return [FIGURES[figure], cell(ours), cell(theirs), ratio, steady];
  });
  const details = results.map((r) => [
    FIGURES[r.plan.figure],
    r.plan.subject,
    r.plan.sizes,
    r.totals
      .map(
        ([n, n2]) =>
          `${fmt(n.ir / 1e6, 1)} (${fmt(n.compileIr / 1e6, 1)}) / ${fmt(n2.ir / 1e6, 1)} (${fmt(n2.compileIr / 1e6, 1)})`,
      )
      .join('; ') || '—',
    r.perUnit.map((v) => fmt(v)).join(', ') || '—',
    r.perUnitRaw.length ? spreadText(r.perUnitRaw).replace(/\*\*/g, '') : '—',
  ]);
  const seconds = Math.round((Date.now() - started) / 1000);
  const markdown = [
    `## Instructions (callgrind Ir), nestjs-snowplow vs @snowplow/node-tracker ${nodeTrackerVersion()}`,
    '',
    table(
      ['run', ''],
      [
        ['date', `${startedAt.toISOString()} to ${new Date().toISOString()} (${seconds} s)`],
        [
          'library',
          distDir ? `\`${distDir}\` (INSTR_DIST); bench from ${gitState()}` : `${gitState()}; \`dist/\` as built`,
        ],
        [
          'how',
          `${valgrind} \`--tool=callgrind\`, node ${process.version} \`${NODE_FLAGS.join(' ')}\`; ` +
            `${pairs} pairs (N, 2N) per figure: intervals of one process per figure and subject (per track call each after a full GC, the warm-up's subject held), ` +
            "counted with `callgrind_control -d`; marginal (Ir(2N) − Ir(N)) / N, medians; the instructions of V8's " +
            'optimising compiler (calls into `Runtime_CompileOptimized*`) are left out of the figures (see bench/README.md)' +
            (scale !== 1 ? ` · **INSTR_SCALE=${scale}: not a result**` : '') +
            (pairs < 3 ? ' · **fewer than 3 pairs: not a result**' : ''),
        ],
        [
          'machine',
          `${availableParallelism()} CPUs (${cpus()[0]?.model ?? 'unknown'}); load ${loadAtStart.join(' / ')} at the start (counts do not depend on it)`,
        ],
      ],
    ),
    '',
    table(
      [
        'instructions',
        'nestjs-snowplow: median (min–max, spread)',
        '@snowplow/node-tracker: median (min–max, spread)',
        'node-tracker / ours',
        'ours: its pairs within 3 % (the target is 3 % between runs)',
      ],
      rows,
    ),
    '',
    instructionTargetsSection((figure, subject) => {
      const r = find(figure, subject);
      return r && r.perUnit.length ? median(r.perUnit) : undefined;
    }),
    '',
    `Per trackEvent: ours into a real \`Emitter\` (send loop not started, capacity for every call); node-tracker into its ` +
      `own emitter and unbounded in-memory store, \`bufferSize\` above the calls. Per trackSelfDescribingEvent: the same, ` +
      `a \`com.acme/checkout\` event with a \`cart\` and a \`tenant\` entity (node-tracker: \`track\` with the two as its ` +
      `context). Per delivered event: track a batch, wait ` +
      `until the collector (another process) has accepted it, repeat; ours \`batchSize\` = \`maxBatchSize\` = the batch, ` +
      `waited on with \`drain()\`; node-tracker \`bufferSize\` = the batch, \`maxPostBytes\` ${fmt(NODE_TRACKER_MAX_POST_BYTES)} ` +
      `(one request per batch). Per request: only the app's process is counted; the load comes from another process, one ` +
      `request at a time on one keep-alive connection; the app's emitter sends one batch of 100 per 100 requests.`,
    '',
    ...requestSplitText(results),
    table(
      [
        'figure',
        'subject',
        'sizes',
        'intervals of each pair: Ir(N) / Ir(2N), millions (of which TurboFan)',
        'per unit, each pair (TurboFan excluded)',
        'per unit with TurboFan: median (min–max, spread)',
      ],
      details,
    ),
    '',
  ].join('\n');
  process.stdout.write(markdown);
  if (process.env.INSTR_OUT) writeFileSync(process.env.INSTR_OUT, markdown);
  log(`done in ${seconds} s`);
  return results.some((r) => r.error) ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err instanceof Error ? err.stack : err);
    process.exit(1);
  },
);
