/**
 * Row 1b: tracking at a steady rate (10,000 events/s by default) for a few seconds while the
 * emitter delivers to the collector, in two windows of the same length:
 *
 * 1. latency: calls due every 1 ms, each timed on its own, and the event-loop delay
 *    (perf_hooks.monitorEventLoopDelay);
 * 2. CPU: calls due every `cpuTickMs` (10 ms), untimed, nothing else running: the process CPU
 *    time over the window and the events the collector received from it meanwhile. A 1 ms timer
 *    alone costs ~50 µs of CPU per tick on the bench VM (~5 µs per event at 10,000/s), which
 *    would be counted against the library; at 10 ms it is ~0.3 µs per event.
 */
import { createHistogram, monitorEventLoopDelay } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { main, params, report } from '../support/child';
import { CollectorClient } from '../support/collector-client';
import { createSubject, SubjectName } from '../support/subjects';

/** monitorEventLoopDelay records the time between its timer's ticks; we report the excess over this. */
const LOOP_RESOLUTION_MS = 10;

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
}

/** Tracks at `rate` per second for `durationMs`: every `tickMs`, the calls that are due. */
function paced(
  track: () => void,
  rate: number,
  durationMs: number,
  tickMs: number,
  onCall?: (ns: number) => void,
): Promise<number> {
  return new Promise((resolve) => {
    const started = performance.now();
    let sent = 0;
    const timer = setInterval(() => {
      const elapsed = performance.now() - started;
      const due = Math.floor((Math.min(elapsed, durationMs) * rate) / 1000) - sent;
      for (let i = 0; i < due; i++) {
        if (onCall) {
          const t0 = process.hrtime.bigint();
          track();
          onCall(Number(process.hrtime.bigint() - t0));
        } else {
          track();
        }
      }
      sent += due;
      if (elapsed >= durationMs) {
        clearInterval(timer);
        resolve(sent);
      }
    }, tickMs);
  });
}

main(async () => {
  const p = params<Params>();
  const subject = createSubject(p.subject, p.collectorPort);
  const track = () => subject.track();
  const collector = new CollectorClient(p.collectorPort);
  await paced(track, p.ratePerSecond, p.warmupMs, 1);
  await sleep(200);

  // 1. Latency: every call timed, the event loop watched.
  const calls = createHistogram();
  const loop = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS });
  const latencyStarted = performance.now();
  loop.enable();
  const latencySent = await paced(track, p.ratePerSecond, p.durationMs, 1, (ns) => calls.record(Math.max(1, ns)));
  loop.disable();
  const latencyMs = performance.now() - latencyStarted;
  await sleep(200);

  // 2. CPU: untimed calls, coarser pacing; what the collector received meanwhile.
  const before = await collector.stats();
  const cpu0 = process.cpuUsage();
  const wall0 = performance.now();
  const sent = await paced(track, p.ratePerSecond, p.durationMs, p.cpuTickMs);
  const wallMs = performance.now() - wall0;
  const cpu = process.cpuUsage(cpu0);
  const after = await collector.stats();

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
    delivered: after.events - before.events,
    requestsPerSecond: ((after.requests - before.requests) / wallMs) * 1000,
    eventsPerRequest:
      after.requests > before.requests ? (after.events - before.events) / (after.requests - before.requests) : 0,
  });
  await subject.close(5_000);
});
