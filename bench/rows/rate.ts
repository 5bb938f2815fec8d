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
  requestsPerSecond: number;
  eventsPerRequest: number;
}

/** Row 1b: latency and event-loop delay at a steady 10,000 events/s. */
export async function rateRow(ctx: BenchContext): Promise<RowResult> {
  const { perSecond, durationMs, warmupMs } = ctx.cfg.rate;
  const results: Record<string, RateResult[]> = Object.fromEntries(SUBJECTS.map((s) => [s, []]));
  for (let run = 0; run < ctx.cfg.runs; run++) {
    for (const subject of rotate(SUBJECTS, run)) {
      const result = await runChild<RateResult>('rate.ts', {
        subject,
        collectorPort: ctx.collector.port,
        ratePerSecond: perSecond,
        durationMs,
        warmupMs,
      });
      results[subject].push(result);
    }
    ctx.log(
      `rate run ${run + 1}/${ctx.cfg.runs}: p99 call ours ${fmt(results.ours[run].callP99Ns)} ns, node-tracker ${fmt(results['node-tracker'][run].callP99Ns)} ns`,
    );
  }
  const m = (s: SubjectName, key: keyof Omit<RateResult, 'type'>) => median(results[s].map((r) => r[key]));
  const rows = SUBJECTS.map((s) => [
    SUBJECT_LABELS[s],
    fmt(m(s, 'achievedRate')),
    fmt(m(s, 'callP50Ns')),
    fmt(m(s, 'callP99Ns')),
    fmt(m(s, 'callMaxNs') / 1000, 0),
    fmt(m(s, 'loopP50Ms'), 2),
    fmt(m(s, 'loopP99Ms'), 2),
    fmt(m(s, 'loopMaxMs'), 1),
    fmt(m(s, 'cpuPercent'), 1),
    s === 'floor' ? '—' : fmt(m(s, 'requestsPerSecond')),
    s === 'floor' ? '—' : fmt(m(s, 'eventsPerRequest'), 1),
  ]);
  const markdown = [
    `### 1b. Steady load: ${fmt(perSecond)} events/s for ${fmt(durationMs / 1000, 1)} s, delivered to the collector meanwhile (medians of ${ctx.cfg.runs})`,
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
        'CPU % of one core',
        'requests/s to collector',
        'events/request',
      ],
      rows,
    ),
    '',
    'Each call is timed on its own (hrtime, which adds ~50 ns). Loop delay: `monitorEventLoopDelay` (10 ms resolution), ' +
      'excess over the 10 ms interval. CPU: user+system time of the tracking process over wall time (delivery included).',
  ].join('\n');
  return {
    markdown,
    targets: [],
  };
}
