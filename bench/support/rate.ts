/** Rows 1b and 11: what bench/children/rate.ts reports, and how to run it. */
import { BenchContext } from './context';
import { runChild } from './spawn';
import { SubjectName } from './subjects';

/** One event's track call → the library's word that the collector answered 2xx, over the latency window. */
export interface RateLatency {
  /** Events tracked in the latency window (the floor: 0, it sends nothing). */
  tracked: number;
  /** Of those, not reported delivered within the settle timeout. */
  undelivered: number;
  /** Events with a latency, by kind. */
  custom: number;
  billing: number;
  customP50Ms: number;
  customP99Ms: number;
  customMaxMs: number;
  billingP50Ms: number;
  billingP99Ms: number;
  billingMaxMs: number;
  /** Requests that carried the window's events, as the library reported them: custom only, billing only, both. */
  customRequests: number;
  billingRequests: number;
  mixedRequests: number;
  /**
   * Requests that carried the window's events / those events × 10,000 (the library's counts): the
   * same figure as the CPU window's, for arrivals 1 ms apart instead of 10 ms.
   */
  requestsPer10k: number;
  /** What the collector received from the window's start until its events were delivered. */
  collectorRequests: number;
  collectorEvents: number;
  /** Ours: each successful request's own duration (observer `requestFinished`), p50 and p99, ms. */
  requestP50Ms: number;
  requestP99Ms: number;
}

export interface RateResult {
  type: 'result';
  sent: number;
  achievedRate: number;
  callP50Ns: number;
  callP99Ns: number;
  callMaxNs: number;
  loopP50Ms: number;
  loopP99Ms: number;
  loopMaxMs: number;
  cpuPercent: number;
  /** Process CPU time (user + system) over the CPU window, µs. */
  cpuUs: number;
  /** Events the collector received from this process during the CPU window. */
  delivered: number;
  /** Requests the collector received from this process during the CPU window. */
  requests: number;
  requestsPerSecond: number;
  eventsPerRequest: number;
  /** CPU window: requests / delivered events × 10,000. */
  requestsPer10k: number;
  latency: RateLatency;
  /** Ours: `lingerMs` and `maxLingerMs` as the emitter ran (null: the library has no `maxLingerMs`). */
  emitter: { lingerMs: number; maxLingerMs: number | null } | null;
}

export interface RateRun {
  subject: SubjectName;
  emitterOptions?: Record<string, unknown>;
  billingEvery?: number;
}

/** One fresh process at row 1b's load. */
export function runRate(ctx: BenchContext, run: RateRun): Promise<RateResult> {
  const { perSecond, durationMs, warmupMs, cpuTickMs } = ctx.cfg.rate;
  const budget = Number(run.emitterOptions?.maxLingerMs ?? 0);
  return runChild<RateResult>('rate.ts', {
    subject: run.subject,
    collectorPort: ctx.collector.port,
    ratePerSecond: perSecond,
    durationMs,
    warmupMs,
    cpuTickMs,
    emitterOptions: run.emitterOptions,
    billingEvery: run.billingEvery,
    settleTimeoutMs: 10_000 + 2 * budget,
  });
}

/** CPU µs per delivered event (per tracked event for the floor, which delivers nothing). */
export function cpuPerEvent(r: RateResult, subject: SubjectName): number {
  return r.cpuUs / (subject === 'floor' ? r.sent : r.delivered);
}

/**
 * The wait an event may have before its batch leaves: `maxLingerMs` when adaptive batching is on,
 * `lingerMs` otherwise (0 turns `maxLingerMs` off).
 */
export function budgetMs(emitter: RateResult['emitter']): number {
  if (!emitter) return Number.NaN;
  return emitter.maxLingerMs ? Math.max(emitter.maxLingerMs, emitter.lingerMs) : emitter.lingerMs;
}
