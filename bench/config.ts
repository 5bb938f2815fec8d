/** Sizes and durations of a bench run. BENCH_QUICK=1 makes a fast smoke run; BENCH_RUNS=n overrides the run count. */
export interface BenchConfig {
  quick: boolean;
  /** Repetitions of each measurement; tables show medians (and min–max). */
  runs: number;
  hotPath: { calls: number; warmup: number; chunk: number };
  /**
   * Row 1b: a latency window and a CPU window of `durationMs` each; the CPU window tracks every
   * `cpuTickMs`. The billing line tracks a billing event every `billingEvery` calls (1 %).
   */
  rate: { perSecond: number; durationMs: number; warmupMs: number; cpuTickMs: number; billingEvery: number };
  /** Row 11: row 1b's load (ours, custom events only) once per `maxLingerMs` here; 'default' passes none. */
  linger: { budgets: Array<number | 'default'> };
  burst: { events: number; warmup: number };
  memory: { events: number };
  shutdown: { events: number };
  /** `billing`: billing events tracked one by one (each committed before tracking returns). */
  durable: { events: number; chunk: number; billing: number };
  /** Row 7: per batch size, each client posts about eventsPerBlock events per block. */
  delivery: { batchSizes: number[]; eventsPerBlock: number; blocks: number; warmupRequests: number };
  /** Row 8: one process per backlog × maxBatchSize, after draining `warmup` events. */
  backlog: { backlogs: number[]; maxBatchSizes: number[]; warmup: number };
  /** Row 9: custom events queued; request bodies built for these batch sizes. */
  memoryBreakdown: { events: number; batchSizes: number[] };
  /** Row 10: dead-letter lines replayed (billing events). */
  replay: { lines: number };
  /** Rounds of row 5: one per run (BENCH_RUNS). */
  interceptor: { durationSeconds: number; warmupSeconds: number; connections: number };
  /** `npm run bench:postgres` (bench/postgres.ts). */
  postgres: {
    /** P1: events tracked per store, `chunk` per event-loop tick, after `warmup`. */
    commit: { events: number; chunk: number; warmup: number };
    /** P2: transactions per block, blocks per variant (with and without the billing write), alternating. */
    transaction: { perBlock: number; blocks: number; warmup: number };
    /** P3: billing events, one transaction at a time, `gapMs` idle between them, after `warmup`. */
    latency: { events: number; warmup: number; gapMs: number };
    /** P4: rows in the outbox before the relays start. */
    delivery: { rows: number };
  };
}

const FULL: BenchConfig = {
  quick: false,
  runs: 5,
  hotPath: { calls: 100_000, warmup: 20_000, chunk: 1_000 },
  rate: { perSecond: 10_000, durationMs: 3_000, warmupMs: 1_000, cpuTickMs: 10, billingEvery: 100 },
  linger: { budgets: [0, 20, 50, 100, 200, 'default'] },
  burst: { events: 100_000, warmup: 1_000 },
  memory: { events: 10_000 },
  shutdown: { events: 10_000 },
  durable: { events: 100_000, chunk: 1_000, billing: 10_000 },
  delivery: { batchSizes: [100, 1_000], eventsPerBlock: 20_000, blocks: 4, warmupRequests: 20 },
  backlog: { backlogs: [1_000, 10_000, 100_000], maxBatchSizes: [100, 250, 500, 1_000, 2_000], warmup: 5_000 },
  memoryBreakdown: { events: 100_000, batchSizes: [100, 1_000] },
  replay: { lines: 60_000 },
  interceptor: { durationSeconds: 5, warmupSeconds: 3, connections: 50 },
  postgres: {
    commit: { events: 100_000, chunk: 1_000, warmup: 2_000 },
    transaction: { perBlock: 1_000, blocks: 4, warmup: 200 },
    latency: { events: 300, warmup: 20, gapMs: 25 },
    delivery: { rows: 100_000 },
  },
};

const QUICK: BenchConfig = {
  quick: true,
  runs: 1,
  hotPath: { calls: 20_000, warmup: 5_000, chunk: 1_000 },
  rate: { perSecond: 10_000, durationMs: 1_000, warmupMs: 300, cpuTickMs: 10, billingEvery: 100 },
  linger: { budgets: [0, 20, 50, 100, 200, 'default'] },
  burst: { events: 20_000, warmup: 500 },
  memory: { events: 10_000 },
  shutdown: { events: 10_000 },
  durable: { events: 20_000, chunk: 1_000, billing: 2_000 },
  delivery: { batchSizes: [100, 1_000], eventsPerBlock: 10_000, blocks: 2, warmupRequests: 20 },
  backlog: { backlogs: [1_000, 10_000], maxBatchSizes: [100, 250, 500, 1_000, 2_000], warmup: 2_000 },
  memoryBreakdown: { events: 20_000, batchSizes: [100, 1_000] },
  replay: { lines: 60_000 },
  interceptor: { durationSeconds: 2, warmupSeconds: 1, connections: 50 },
  postgres: {
    commit: { events: 10_000, chunk: 1_000, warmup: 1_000 },
    transaction: { perBlock: 200, blocks: 2, warmup: 50 },
    latency: { events: 40, warmup: 5, gapMs: 25 },
    delivery: { rows: 10_000 },
  },
};

export function loadConfig(env: NodeJS.ProcessEnv = process.env): BenchConfig {
  const base = env.BENCH_QUICK === '1' || env.BENCH_QUICK === 'true' ? QUICK : FULL;
  const runs = env.BENCH_RUNS ? Number(env.BENCH_RUNS) : base.runs;
  if (!Number.isInteger(runs) || runs < 1)
    throw new Error(`BENCH_RUNS must be a positive integer, got ${env.BENCH_RUNS}`);
  return { ...base, runs };
}
