import { runChild } from '../support/spawn';
import { BenchContext, rotate, RowResult } from '../support/context';
import { fmt, median, table } from '../support/stats';

interface BacklogResult {
  type: 'result';
  ms: number;
  eventsPerSecond: number;
  requests: number;
  cpuUsPerEvent: number;
}

/** Row 8: events/s delivered against backlog size, for several `maxBatchSize` values. */
export async function backlogRow(ctx: BenchContext): Promise<RowResult> {
  const { backlogs, maxBatchSizes, warmup } = ctx.cfg.backlog;
  const key = (backlog: number, maxBatchSize: number) => `${backlog}/${maxBatchSize}`;
  const results = new Map<string, BacklogResult[]>();
  for (let run = 0; run < ctx.cfg.runs; run++) {
    for (const backlog of backlogs) {
      const line: string[] = [];
      for (const maxBatchSize of rotate(maxBatchSizes, run)) {
        const result = await runChild<BacklogResult>('backlog.ts', {
          collectorPort: ctx.collector.port,
          backlog,
          maxBatchSize,
          warmup,
        });
        const k = key(backlog, maxBatchSize);
        results.set(k, [...(results.get(k) ?? []), result]);
        line.push(`${fmt(maxBatchSize)}: ${fmt(result.eventsPerSecond)}/s`);
      }
      ctx.log(`backlog run ${run + 1}/${ctx.cfg.runs}, ${fmt(backlog)} events: ${line.join(', ')}`);
    }
  }
  const m = (backlog: number, maxBatchSize: number, field: keyof Omit<BacklogResult, 'type'>) =>
    median((results.get(key(backlog, maxBatchSize)) ?? []).map((r) => r[field]));
  const header = ['backlog (events)', ...maxBatchSizes.map((b) => `maxBatchSize ${fmt(b)}`)];
  const rateRows = backlogs.map((backlog) => [
    fmt(backlog),
    ...maxBatchSizes.map(
      (b) =>
        `${fmt(m(backlog, b, 'eventsPerSecond'))}/s (${fmt(m(backlog, b, 'requests'))} req, ${fmt(m(backlog, b, 'ms'))} ms)`,
    ),
  ]);
  const cpuRows = backlogs.map((backlog) => [
    fmt(backlog),
    ...maxBatchSizes.map((b) => fmt(m(backlog, b, 'cpuUsPerEvent'), 2)),
  ]);
  const markdown = [
    `### 8. Backlog curve: events/s delivered against backlog size and \`maxBatchSize\` (medians of ${ctx.cfg.runs})`,
    '',
    'Events/s delivered (requests to the collector, time to drain):',
    '',
    table(header, rateRows),
    '',
    'CPU µs per event of the draining process (tracking excluded):',
    '',
    table(header, cpuRows),
    '',
    'Each cell is a fresh process: an `Emitter` with `capacity` = the backlog and the given `maxBatchSize` (other options ' +
      'default: `batchSize` 100, 4 requests in flight, `maxBatchBytes` 1,000,000), the backlog tracked with `trackEvent` ' +
      'before the send loop starts (as if the collector had been down), then `drain()`: time from the call until it ' +
      `resolves with everything delivered. A separate emitter with the same options drains ${fmt(warmup)} events first ` +
      '(warm code; the measured emitter opens its own connections). The emitter sends `batchSize` events per request ' +
      'while at most one batch waits, and grows batches up to `maxBatchSize` while more wait.',
  ].join('\n');
  return { markdown, targets: [] };
}
