import { runChild } from '../support/spawn';
import { BenchContext, rotate, RowResult } from '../support/context';
import { fmt, mb, median, table } from '../support/stats';
import { SUBJECT_LABELS, SubjectName } from '../support/subjects';

const SUBJECTS: SubjectName[] = ['ours', 'node-tracker', 'node-tracker-unbounded'];

interface MemoryResult {
  type: 'result';
  rss: number;
  heapUsed: number;
  external: number;
  queued: number;
}

/** Row 3: memory with N events queued (collector down), fresh process each, GC before reading. */
export async function memoryRow(ctx: BenchContext): Promise<RowResult> {
  const { events } = ctx.cfg.memory;
  const loaded: Record<string, MemoryResult[]> = Object.fromEntries(SUBJECTS.map((s) => [s, []]));
  const empty: Record<string, MemoryResult[]> = Object.fromEntries(SUBJECTS.map((s) => [s, []]));
  for (let run = 0; run < ctx.cfg.runs; run++) {
    for (const subject of rotate(SUBJECTS, run)) {
      for (const n of run % 2 ? [events, 0] : [0, events]) {
        const result = await runChild<MemoryResult>(
          'memory.ts',
          { subject, deadPort: ctx.deadPort, events: n },
          { exposeGc: true },
        );
        (n === 0 ? empty : loaded)[subject].push(result);
      }
    }
    ctx.log(
      `memory run ${run + 1}/${ctx.cfg.runs}: ours ${mb(loaded.ours[run].rss)} with ${fmt(events)} vs ${mb(empty.ours[run].rss)} empty`,
    );
  }
  const m = (set: Record<string, MemoryResult[]>, s: SubjectName, key: keyof Omit<MemoryResult, 'type'>) =>
    median(set[s].map((r) => r[key]));
  const delta = (s: SubjectName, key: 'rss' | 'heapUsed') => m(loaded, s, key) - m(empty, s, key);
  const rows = SUBJECTS.map((s) => [
    SUBJECT_LABELS[s],
    fmt(m(loaded, s, 'queued')),
    mb(m(empty, s, 'rss')),
    mb(m(loaded, s, 'rss')),
    mb(delta(s, 'rss')),
    mb(m(empty, s, 'heapUsed')),
    mb(m(loaded, s, 'heapUsed')),
    mb(delta(s, 'heapUsed')),
    m(loaded, s, 'queued') > 0 ? `${fmt(delta(s, 'heapUsed') / m(loaded, s, 'queued'))} B` : 'n/a',
  ]);
  const markdown = [
    `### 3. Memory: ${fmt(events)} events tracked while the collector is down (fresh process each, \`--expose-gc\`, GC before reading; medians of ${ctx.cfg.runs})`,
    '',
    table(
      [
        'subject',
        'events held',
        'RSS, empty baseline',
        `RSS, ${fmt(events)} tracked`,
        'Δ RSS',
        'heap, empty baseline',
        `heap, ${fmt(events)} tracked`,
        'Δ heap',
        'Δ heap per held event',
      ],
      rows,
    ),
    '',
    'Empty baseline: the same process (library loaded, tracker and emitter built, collector down) tracking nothing. ' +
      'node-tracker with its default store keeps only the newest 1,000.',
  ].join('\n');
  const oursDelta = delta('ours', 'rss');
  return {
    markdown,
    targets: [
      {
        target: `≤ 20 MB RSS for ${fmt(events)} queued events (row 3)`,
        measured: `Δ over empty baseline ${mb(oursDelta)}; absolute ${mb(m(loaded, 'ours', 'rss'))} (empty process ${mb(m(empty, 'ours', 'rss'))})`,
        met: oursDelta <= 20 * 1024 * 1024,
      },
    ],
  };
}
