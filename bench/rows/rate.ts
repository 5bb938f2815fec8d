import { runChild } from '../support/spawn';
import { BenchContext, rotate, RowResult } from '../support/context';
import { fmt, median, table } from '../support/stats';
import { SUBJECT_LABELS, SubjectName } from '../support/subjects';

const SUBJECTS: SubjectName[] = ['ours', 'node-tracker', 'floor'];

interface RateResult {
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
  /** Process CPU time (user + system) over the window, µs. */
  cpuUs: number;
  /** Events the collector received from this process during the window. */
  delivered: number;
  requestsPerSecond: number;
  eventsPerRequest: number;
}

/** Row 1b: latency and event-loop delay at a steady 10,000 events/s. */
export async function rateRow(ctx: BenchContext): Promise<RowResult> {
  const { perSecond, durationMs, warmupMs, cpuTickMs } = ctx.cfg.rate;
  const results: Record<string, RateResult[]> = Object.fromEntries(SUBJECTS.map((s) => [s, []]));
  /** CPU µs per delivered event (per tracked event for the floor, which delivers nothing), per run. */
  const perEvent = (r: RateResult, s: SubjectName) => r.cpuUs / (s === 'floor' ? r.sent : r.delivered);
  for (let run = 0; run < ctx.cfg.runs; run++) {
    for (const subject of rotate(SUBJECTS, run)) {
      const result = await runChild<RateResult>('rate.ts', {
        subject,
        collectorPort: ctx.collector.port,
        ratePerSecond: perSecond,
        durationMs,
        warmupMs,
        cpuTickMs,
      });
      results[subject].push(result);
    }
    ctx.log(
      `rate run ${run + 1}/${ctx.cfg.runs}: CPU per delivered event ours ${fmt(perEvent(results.ours[run], 'ours'), 2)} µs, ` +
        `node-tracker ${fmt(perEvent(results['node-tracker'][run], 'node-tracker'), 2)} µs, floor ${fmt(perEvent(results.floor[run], 'floor'), 2)} µs`,
    );
  }
  const m = (s: SubjectName, key: keyof Omit<RateResult, 'type'>) => median(results[s].map((r) => r[key]));
  const cpuPerEvent = (s: SubjectName) => median(results[s].map((r) => perEvent(r, s)));
  const latencyRows = SUBJECTS.map((s) => [
    SUBJECT_LABELS[s],
    fmt(m(s, 'achievedRate')),
    fmt(m(s, 'callP50Ns')),
    fmt(m(s, 'callP99Ns')),
    fmt(m(s, 'callMaxNs') / 1000, 0),
    fmt(m(s, 'loopP50Ms'), 2),
    fmt(m(s, 'loopP99Ms'), 2),
    fmt(m(s, 'loopMaxMs'), 1),
  ]);
  const cpuRows = SUBJECTS.map((s) => [
    SUBJECT_LABELS[s],
    s === 'floor' ? `${fmt(cpuPerEvent(s), 2)} (per tracked event)` : `**${fmt(cpuPerEvent(s), 2)}**`,
    s === 'floor' ? `— / ${fmt(m(s, 'sent'))}` : `${fmt(m(s, 'delivered'))} / ${fmt(m(s, 'sent'))}`,
    fmt(m(s, 'cpuPercent'), 1),
    s === 'floor' ? '—' : fmt(m(s, 'requestsPerSecond')),
    s === 'floor' ? '—' : fmt(m(s, 'eventsPerRequest'), 1),
  ]);
  const seconds = fmt(durationMs / 1000, 1);
  const markdown = [
    `### 1b. Steady load: ${fmt(perSecond)} events/s, delivered to the collector meanwhile (medians of ${ctx.cfg.runs})`,
    '',
    `CPU window (${seconds} s, calls due every ${cpuTickMs} ms, untimed):`,
    '',
    table(
      [
        'subject',
        'CPU µs per delivered event',
        'delivered / tracked in the window',
        'CPU % of one core',
        'requests/s to collector',
        'events/request',
      ],
      cpuRows,
    ),
    '',
    `Latency window (${seconds} s before the CPU window, calls due every 1 ms, each timed):`,
    '',
    table(
      [
        'subject',
        'events/s',
        'call p50 ns',
        'call p99 ns',
        'call max µs',
        'loop delay p50 ms',
        'loop delay p99 ms',
        'loop delay max ms',
      ],
      latencyRows,
    ),
    '',
    'CPU µs per delivered event = user+system CPU time of the tracking process over the CPU window (tracking and ' +
      'delivery) / events the collector received from it in that window; median of the per-run quotients. The floor ' +
      `delivers nothing: its figure is per tracked event, i.e. the floor's work plus the pacing (a timer every ${cpuTickMs} ms). ` +
      'The CPU window paces coarsely because a 1 ms timer alone costs ~5 µs of CPU per event at this rate on the bench VM. ' +
      'Latency window: each call timed on its own (hrtime, which adds ~50 ns); loop delay from `monitorEventLoopDelay` ' +
      '(10 ms resolution), excess over the 10 ms interval.',
  ].join('\n');
  return {
    markdown,
    targets: [
      {
        target: `steady ${fmt(perSecond)} events/s: process CPU per delivered event (track + send) ≤ 8 µs (row 1b)`,
        measured:
          `${fmt(cpuPerEvent('ours'), 2)} µs (runs: ${results.ours.map((r) => fmt(perEvent(r, 'ours'), 2)).join(', ')}); ` +
          `node-tracker ${fmt(cpuPerEvent('node-tracker'), 2)} µs; floor ${fmt(cpuPerEvent('floor'), 2)} µs per tracked event`,
        met: cpuPerEvent('ours') <= 8,
      },
    ],
  };
}
