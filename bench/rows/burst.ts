import { Child } from '../support/spawn';
import { CollectorStats } from '../support/collector-client';
import { BenchContext, rotate, RowResult } from '../support/context';
import { fmt, mb, median, table } from '../support/stats';
import { SUBJECT_LABELS, SubjectName } from '../support/subjects';

const VARIANTS: SubjectName[] = ['ours', 'ours-100k', 'node-tracker', 'node-tracker-unbounded'];

interface BurstRun {
  delivered: number;
  duplicates: number;
  deliveredPerSecond: number;
  timeToLastMs: number;
  trackMs: number;
  requests: number;
  bytesPerEvent: number;
  peakRss: number;
  peakRssDelta: number;
}

async function burstOnce(ctx: BenchContext, subject: SubjectName): Promise<BurstRun> {
  const { events, warmup } = ctx.cfg.burst;
  const child = new Child('burst.ts', { subject, collectorPort: ctx.collector.port, events, warmup });
  try {
    await child.next('ready');
    await ctx.collector.reset();
    child.send({ type: 'go' });
    const tracked = await child.next<{ type: 'tracked'; startedAt: number; trackedAt: number }>('tracked');
    const stats: CollectorStats = await ctx.collector.waitFor(events, { quietMs: 2_000, timeoutMs: 300_000 });
    child.send({ type: 'finish' });
    const result = await child.next<{ type: 'result'; rssBefore: number; peakRss: number }>('result');
    const exit = await child.close();
    if (exit.code !== 0) throw new Error(`burst.ts (${subject}) exited with code ${exit.code}`);
    const timeToLastMs = stats.lastAt - tracked.startedAt;
    return {
      delivered: stats.unique,
      duplicates: stats.duplicates,
      deliveredPerSecond: stats.unique > 0 ? (stats.unique / timeToLastMs) * 1000 : 0,
      timeToLastMs,
      trackMs: tracked.trackedAt - tracked.startedAt,
      requests: stats.requests,
      bytesPerEvent: stats.events > 0 ? stats.bodyBytes / stats.events : Number.NaN,
      peakRss: result.peakRss,
      peakRssDelta: result.peakRss - result.rssBefore,
    };
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
}

/** Row 2: N events tracked in one synchronous burst, time until the collector has them. */
export async function burstRow(ctx: BenchContext): Promise<RowResult> {
  const { events } = ctx.cfg.burst;
  const runs: Record<string, BurstRun[]> = Object.fromEntries(VARIANTS.map((v) => [v, []]));
  for (let run = 0; run < ctx.cfg.runs; run++) {
    for (const variant of rotate(VARIANTS, run)) {
      const result = await burstOnce(ctx, variant);
      runs[variant].push(result);
      ctx.log(
        `burst run ${run + 1}/${ctx.cfg.runs} ${variant}: ${fmt(result.delivered)} delivered in ${fmt(result.timeToLastMs)} ms ` +
          `(${fmt(result.deliveredPerSecond)}/s), peak RSS ${mb(result.peakRss)}`,
      );
    }
  }
  const m = (v: SubjectName, key: keyof BurstRun) => median(runs[v].map((r) => r[key]));
  const rows = VARIANTS.map((v) => [
    SUBJECT_LABELS[v],
    `${fmt(m(v, 'delivered'))} / ${fmt(events)}`,
    fmt(events - m(v, 'delivered')),
    fmt(m(v, 'duplicates')),
    fmt(m(v, 'trackMs')),
    fmt(m(v, 'timeToLastMs')),
    fmt(m(v, 'deliveredPerSecond')),
    fmt(m(v, 'requests')),
    fmt(m(v, 'bytesPerEvent')),
    `${mb(m(v, 'peakRss'))} (+${mb(m(v, 'peakRssDelta'))})`,
  ]);
  const markdown = [
    `### 2. End to end: ${fmt(events)} events tracked in one synchronous loop, until the collector has them (medians of ${ctx.cfg.runs})`,
    '',
    table(
      [
        'subject',
        'delivered',
        'lost',
        'duplicates',
        'tracking ms',
        'ms to last event',
        'events/s delivered',
        'requests',
        'body bytes/event',
        'peak RSS (over pre-burst)',
      ],
      rows,
    ),
    '',
    'Events/s delivered = distinct eids at the collector / time from the first track call to the last request received. ' +
      'A run that loses events ends when the collector has had nothing new for 2 s (not counted in the time). ' +
      `Peak RSS is the process maximum (\`resourceUsage().maxRSS\`), after a ${fmt(ctx.cfg.burst.warmup)}-event warm-up.`,
  ].join('\n');

  const lost = (v: SubjectName) => events - m(v, 'delivered');
  return {
    markdown,
    targets: [
      {
        target: `${fmt(events)} burst, \`capacity: 100_000\`: ≥ 200,000 events/s delivered, none lost (row 2; issue 27)`,
        measured:
          `${fmt(m('ours-100k', 'deliveredPerSecond'))}/s, ${fmt(lost('ours-100k'))} lost; ` +
          `defaults (ring buffer 10,000): ${fmt(m('ours', 'deliveredPerSecond'))}/s, ${fmt(lost('ours'))} overwritten by design`,
        met: m('ours-100k', 'deliveredPerSecond') >= 200_000 && lost('ours-100k') === 0,
      },
      {
        target: `same burst: peak RSS ≤ 120 MB (row 2; issue 27)`,
        measured: `${mb(m('ours-100k', 'peakRss'))} (+${mb(m('ours-100k', 'peakRssDelta'))} over pre-burst); defaults: ${mb(m('ours', 'peakRss'))}`,
        met: m('ours-100k', 'peakRss') <= 120 * 1024 * 1024,
      },
    ],
  };
}
