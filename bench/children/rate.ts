/**
 * Rows 1b and 11: tracking at a steady rate (10,000 events/s by default) for a few seconds while
 * the emitter delivers to the collector, in two windows of the same length:
 *
 * 1. latency: calls due every 1 ms, each timed on its own; the event-loop delay
 *    (perf_hooks.monitorEventLoopDelay); and each event from its track call to the library's word
 *    that the collector accepted it (ours: the Emitter's `callback(successes)`; node-tracker:
 *    `onRequestSuccess`), waited for after the window; the requests that carried them, by lane;
 *    ours also each request's own duration (the observer's `requestFinished`);
 * 2. CPU: calls due every `cpuTickMs` (10 ms), untimed, nothing else running: the process CPU
 *    time over the window and the events and requests the collector received from it meanwhile.
 *    A 1 ms timer alone costs ~50 µs of CPU per tick on the bench VM (~5 µs per event at
 *    10,000/s), which would be counted against the library; at 10 ms it is ~0.3 µs per event.
 *
 * With `billingEvery` = n, every n-th call is `trackBillingEvent` (ours only) instead of the
 * custom event.
 */
import * as emitterDefaults from 'nestjs-snowplow/internal/emitter/emitter-options';
import { createHistogram, monitorEventLoopDelay } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { main, params, report } from '../support/child';
import { CollectorClient } from '../support/collector-client';
import { createSubject, emitterOptionsFromEnv, SubjectName } from '../support/subjects';

/** monitorEventLoopDelay records the time between its timer's ticks; we report the excess over this. */
const LOOP_RESOLUTION_MS = 10;

/** After the latency window: how long nothing new may be reported, with nothing held, before the wait ends. */
const QUIET_MS = 500;

function loopExcessMs(ns: number): number {
  return Math.max(0, ns / 1e6 - LOOP_RESOLUTION_MS);
}

interface Params {
  subject: SubjectName;
  collectorPort: number;
  ratePerSecond: number;
  durationMs: number;
  warmupMs: number;
  cpuTickMs: number;
  /** Extra Emitter options (ours), e.g. `{ maxLingerMs: 50 }`. */
  emitterOptions?: Record<string, unknown>;
  /** Every n-th call tracks a billing event (ours only); 0 or absent: none. */
  billingEvery?: number;
  /** How long to wait, after the latency window, for its events to be reported delivered. */
  settleTimeoutMs: number;
}

/** Nearest-rank percentile of sorted values; NaN for none. */
function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

/** Tracks at `rate` per second for `durationMs`: every `tickMs`, the calls that are due. */
function paced(track: (i: number) => void, rate: number, durationMs: number, tickMs: number): Promise<number> {
  return new Promise((resolve) => {
    const started = performance.now();
    let sent = 0;
    const timer = setInterval(() => {
      const elapsed = performance.now() - started;
      const due = Math.floor((Math.min(elapsed, durationMs) * rate) / 1000) - sent;
      for (let i = 0; i < due; i++) track(sent + i);
      sent += due;
      if (elapsed >= durationMs) {
        clearInterval(timer);
        resolve(sent);
      }
    }, tickMs);
  });
}

/** ms on the monotonic clock the latency window stamps with. */
function nowMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

/**
 * `lingerMs` and `maxLingerMs` as the emitter ran with them (defaults read from the built
 * library); `maxLingerMs` is null when the build has no such option (an older build ignores it).
 */
function effectiveLinger(options: Record<string, unknown>): { lingerMs: number; maxLingerMs: number | null } {
  const defaults = emitterDefaults as unknown as Record<string, unknown>;
  const lingerMs = typeof options.lingerMs === 'number' ? options.lingerMs : Number(defaults.DEFAULT_LINGER_MS);
  const known = (emitterDefaults.EMITTER_OPTION_NAMES as readonly string[]).includes('maxLingerMs');
  if (!known) return { lingerMs, maxLingerMs: null };
  if (typeof options.maxLingerMs === 'number') return { lingerMs, maxLingerMs: options.maxLingerMs };
  // The default as the library resolves it: off with `lingerMs` 0, and never below `lingerMs`.
  const maxDefault = Number(defaults.DEFAULT_MAX_LINGER_MS);
  return { lingerMs, maxLingerMs: lingerMs === 0 ? 0 : Math.max(maxDefault, lingerMs) };
}

main(async () => {
  const p = params<Params>();
  const billingEvery = p.billingEvery ?? 0;

  // Latency window bookkeeping: track time per eid, filled only while `recording`.
  let recording = false;
  const trackedAt = new Map<string, number>();
  const billingEids = new Set<string>();
  const customLatency: number[] = [];
  const billingLatency: number[] = [];
  const requestMs: number[] = [];
  let customRequests = 0;
  let billingRequests = 0;
  let mixedRequests = 0;
  let customDelivered = 0;
  let billingDelivered = 0;
  const delivered = (eids: readonly string[]) => {
    if (!recording) return;
    const at = nowMs();
    let custom = 0;
    let billing = 0;
    for (const eid of eids) {
      const t = trackedAt.get(eid);
      if (t === undefined) continue;
      trackedAt.delete(eid);
      if (billingEids.has(eid)) {
        billing++;
        billingLatency.push(at - t);
      } else {
        custom++;
        customLatency.push(at - t);
      }
    }
    customDelivered += custom;
    billingDelivered += billing;
    if (custom > 0 && billing > 0) mixedRequests++;
    else if (billing > 0) billingRequests++;
    else if (custom > 0) customRequests++;
  };
  const emitterOptions = p.emitterOptions ?? {};
  const subject = createSubject(p.subject, p.collectorPort, {
    emitterOptions,
    delivered: p.subject === 'floor' ? undefined : delivered,
    requestFinished: (ms, ok) => {
      if (recording && ok) requestMs.push(ms);
    },
  });
  if (billingEvery > 0 && !subject.trackBilling) throw new Error(`${p.subject} cannot track billing events`);
  const trackBilling = subject.trackBilling ?? (() => subject.trackEid());
  const track =
    billingEvery > 0
      ? (i: number) => {
          if (i % billingEvery === billingEvery - 1) trackBilling();
          else subject.track();
        }
      : () => subject.track();
  const collector = new CollectorClient(p.collectorPort);
  await paced(track, p.ratePerSecond, p.warmupMs, 1);
  await sleep(200);

  // 1. Latency: every call timed, the event loop watched, every event's track → 2xx.
  const calls = createHistogram();
  const loop = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS });
  const timedTrack = (i: number) => {
    const billing = billingEvery > 0 && i % billingEvery === billingEvery - 1;
    const t0 = process.hrtime.bigint();
    const eid = billing ? trackBilling() : subject.trackEid();
    const t1 = process.hrtime.bigint();
    calls.record(Math.max(1, Number(t1 - t0)));
    if (eid === '') return;
    trackedAt.set(eid, Number(t0) / 1e6);
    if (billing) billingEids.add(eid);
  };
  const latencyBefore = await collector.stats();
  recording = true;
  const latencyStarted = performance.now();
  loop.enable();
  const latencySent = await paced(timedTrack, p.ratePerSecond, p.durationMs, 1);
  loop.disable();
  const latencyMs = performance.now() - latencyStarted;
  const tracked = trackedAt.size + customDelivered + billingDelivered;
  // Wait for the window's events: all reported delivered, or the library holds nothing more and
  // has reported nothing for QUIET_MS (node-tracker's store of 1,000 drops events at this rate),
  // or the timeout.
  const deadline = performance.now() + p.settleTimeoutMs;
  let size = trackedAt.size;
  let changedAt = performance.now();
  while (p.subject !== 'floor' && trackedAt.size > 0 && performance.now() < deadline) {
    await sleep(20);
    if (trackedAt.size !== size) {
      size = trackedAt.size;
      changedAt = performance.now();
    } else if (performance.now() - changedAt >= QUIET_MS && (await subject.queued()) === 0) {
      break;
    }
  }
  recording = false;
  const latencyAfter = await collector.stats();
  const undelivered = p.subject === 'floor' ? 0 : trackedAt.size;
  trackedAt.clear();
  await sleep(200);

  // 2. CPU: untimed calls, coarser pacing; what the collector received meanwhile.
  const before = await collector.stats();
  const cpu0 = process.cpuUsage();
  const wall0 = performance.now();
  const sent = await paced(track, p.ratePerSecond, p.durationMs, p.cpuTickMs);
  const wallMs = performance.now() - wall0;
  const cpu = process.cpuUsage(cpu0);
  const after = await collector.stats();

  customLatency.sort((a, b) => a - b);
  billingLatency.sort((a, b) => a - b);
  requestMs.sort((a, b) => a - b);
  const cpuRequests = after.requests - before.requests;
  const cpuEvents = after.events - before.events;
  await report({
    type: 'result',
    sent,
    achievedRate: (latencySent / latencyMs) * 1000,
    callP50Ns: calls.percentile(50),
    callP99Ns: calls.percentile(99),
    callMaxNs: calls.max,
    loopP50Ms: loopExcessMs(loop.percentile(50)),
    loopP99Ms: loopExcessMs(loop.percentile(99)),
    loopMaxMs: loopExcessMs(loop.max),
    cpuPercent: ((cpu.user + cpu.system) / 1000 / wallMs) * 100,
    cpuUs: cpu.user + cpu.system,
    delivered: cpuEvents,
    requests: cpuRequests,
    requestsPerSecond: (cpuRequests / wallMs) * 1000,
    eventsPerRequest: cpuRequests > 0 ? cpuEvents / cpuRequests : 0,
    requestsPer10k: cpuEvents > 0 ? (cpuRequests / cpuEvents) * 10_000 : Number.NaN,
    latency: {
      tracked,
      undelivered,
      custom: customLatency.length,
      billing: billingLatency.length,
      customP50Ms: percentile(customLatency, 50),
      customP99Ms: percentile(customLatency, 99),
      customMaxMs: customLatency.length ? customLatency[customLatency.length - 1] : Number.NaN,
      billingP50Ms: percentile(billingLatency, 50),
      billingP99Ms: percentile(billingLatency, 99),
      billingMaxMs: billingLatency.length ? billingLatency[billingLatency.length - 1] : Number.NaN,
      customRequests,
      billingRequests,
      mixedRequests,
      collectorRequests: latencyAfter.requests - latencyBefore.requests,
      collectorEvents: latencyAfter.events - latencyBefore.events,
      requestsPer10k:
        customDelivered + billingDelivered > 0
          ? ((customRequests + billingRequests + mixedRequests) / (customDelivered + billingDelivered)) * 10_000
          : Number.NaN,
      requestP50Ms: percentile(requestMs, 50),
      requestP99Ms: percentile(requestMs, 99),
    },
    emitter: p.subject.startsWith('ours') ? effectiveLinger({ ...emitterOptionsFromEnv(), ...emitterOptions }) : null,
  });
  await subject.close(5_000);
});
