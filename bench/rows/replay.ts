import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runChild } from '../support/spawn';
import { BenchContext, RowResult } from '../support/context';
import { fmt, mb, median, table } from '../support/stats';

interface ReplayResult {
  type: 'result';
  ms: number;
  peakRss: number;
  rssBefore: number;
  logged: number;
}

/** The bound for a 60,000-line file. */
const PEAK_RSS_TARGET = 150 * 1024 * 1024;

/** Row 10: peak RSS and time of `replayDeadLetters` on a file of N billing dead letters. */
export async function replayRow(ctx: BenchContext): Promise<RowResult> {
  const { lines } = ctx.cfg.replay;
  const results: (ReplayResult & { fileBytes: number; requests: number; events: number; unique: number })[] = [];
  for (let run = 0; run < ctx.cfg.runs; run++) {
    const dir = mkdtempSync(join(tmpdir(), 'bench-replay-'));
    try {
      const path = join(dir, 'dead-letters.jsonl');
      await runChild('replay.ts', { mode: 'write', path, lines });
      const fileBytes = statSync(path).size;
      const before = await ctx.collector.stats();
      const result = await runChild<ReplayResult>('replay.ts', {
        mode: 'replay',
        path,
        lines,
        collectorPort: ctx.collector.port,
      });
      const after = await ctx.collector.stats();
      const events = after.events - before.events;
      const unique = after.unique - before.unique;
      results.push({ ...result, fileBytes, requests: after.requests - before.requests, events, unique });
      ctx.log(`replay run ${run + 1}/${ctx.cfg.runs}: ${fmt(result.ms)} ms, peak RSS ${mb(result.peakRss)}`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  const m = (key: 'ms' | 'peakRss' | 'rssBefore' | 'fileBytes' | 'requests' | 'events' | 'unique' | 'logged') =>
    median(results.map((r) => r[key]));
  const peak = m('peakRss');
  const markdown = [
    `### 10. Replay: a dead-letter file of ${fmt(lines)} billing events (fresh process; medians of ${ctx.cfg.runs})`,
    '',
    table(
      ['file', 'time', 'events/s', 'requests', 'events at the collector', 'RSS before', 'peak RSS', 'log lines'],
      [
        [
          mb(m('fileBytes')),
          `${fmt(m('ms'))} ms`,
          fmt((lines / m('ms')) * 1000),
          fmt(m('requests')),
          `${fmt(m('events'))} (${fmt(m('unique'))} distinct)`,
          mb(m('rssBefore')),
          mb(peak),
          fmt(m('logged')),
        ],
      ],
    ),
    '',
    'A child process writes the file (billing events built by the real `Tracker`, as dead-letter records), then a ' +
      'fresh process runs `replayDeadLetters(file, { collectorUrl, timeoutMs: 600000 })` with the default options ' +
      '(batches of up to 100 events, 8 requests in flight) against the bench collector. Time: the call until it ' +
      "resolves, the file rewritten (emptied) and its journal deleted. Peak RSS: the process's maxRSS at the end " +
      '(node and the library included); RSS before: right before the call.',
  ].join('\n');
  return {
    markdown,
    targets: [
      {
        target: `replay of ${fmt(lines)} lines: peak RSS ≤ ${mb(PEAK_RSS_TARGET)}`,
        measured: mb(peak),
        met: peak <= PEAK_RSS_TARGET,
      },
    ],
  };
}
