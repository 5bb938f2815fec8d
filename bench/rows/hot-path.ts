import { runChild } from '../support/spawn';
import { BenchContext, rotate, RowResult } from '../support/context';
import { fmt, median, spread, table } from '../support/stats';
import { SUBJECT_LABELS, SubjectName } from '../support/subjects';

const SUBJECTS: SubjectName[] = ['ours', 'node-tracker', 'floor', 'ours-sd', 'node-tracker-sd'];

/**
 * Row 1: ns per track call, each subject in a fresh process, order rotated per run. `trackEvent`
 * against node-tracker and the floor; below it, a self-describing event with two entities in each
 * library (`-sd`).
 */
export async function hotPathRow(ctx: BenchContext): Promise<RowResult> {
  const { calls, warmup, chunk } = ctx.cfg.hotPath;
  const ns: Record<string, number[]> = Object.fromEntries(SUBJECTS.map((s) => [s, []]));
  const speedup: number[] = [];
  const speedupSd: number[] = [];
  const overFloor: number[] = [];
  for (let run = 0; run < ctx.cfg.runs; run++) {
    const inRun: Partial<Record<SubjectName, number>> = {};
    for (const subject of rotate(SUBJECTS, run)) {
      const result = await runChild<{ type: 'result'; nsPerCall: number }>('hot-path.ts', {
        subject,
        collectorPort: ctx.collector.port,
        calls,
        warmup,
        chunk,
      });
      inRun[subject] = result.nsPerCall;
      ns[subject].push(result.nsPerCall);
    }
    speedup.push(inRun['node-tracker']! / inRun.ours!);
    speedupSd.push(inRun['node-tracker-sd']! / inRun['ours-sd']!);
    overFloor.push(inRun.ours! / inRun.floor!);
    ctx.log(
      `hot path run ${run + 1}/${ctx.cfg.runs}: ours ${fmt(inRun.ours!)} ns, node-tracker ${fmt(inRun['node-tracker']!)} ns, ` +
        `floor ${fmt(inRun.floor!)} ns; self-describing + 2 entities: ours ${fmt(inRun['ours-sd']!)} ns, ` +
        `node-tracker ${fmt(inRun['node-tracker-sd']!)} ns`,
    );
  }

  const oursNs = median(ns.ours);
  const ratio = median(speedup);
  const rows = SUBJECTS.map((s) => [
    SUBJECT_LABELS[s],
    spread(ns[s]),
    fmt(median(ns[s]) / 1000, 2),
    s === 'ours' ? '1×' : `${fmt(median(ns[s]) / oursNs, 2)}×`,
  ]);
  const markdown = [
    `### 1. Hot path: one track call (${fmt(calls)} calls after ${fmt(warmup)} warm-up, chunks of ${fmt(chunk)} with an event-loop turn between; collector up)`,
    '',
    table(['subject', 'ns/call, median (min–max)', 'µs/call', 'relative to ours'], rows),
    '',
    `node-tracker / ours, ratio within each run: median **${fmt(ratio, 1)}×** (runs: ${speedup.map((r) => fmt(r, 1)).join(', ')}). ` +
      `ours / floor: median ${fmt(median(overFloor), 2)}×. ` +
      `Self-describing event with two entities (\`-sd\`, relative column against \`trackEvent\`): node-tracker / ours ` +
      `median **${fmt(median(speedupSd), 1)}×** (runs: ${speedupSd.map((r) => fmt(r, 1)).join(', ')}).`,
  ].join('\n');
  return {
    markdown,
    targets: [
      {
        target: 'trackEvent ≤ 1,000 ns/call (row 1; issue 27)',
        measured: `${fmt(oursNs)} ns/call (runs: ${ns.ours.map((v) => fmt(v)).join(', ')})`,
        met: oursNs <= 1000,
      },
      {
        target: 'node-tracker / ours ≥ 15×, same run (row 1; issue 27)',
        measured: `${fmt(ratio, 1)}× (median of per-run ratios: ${speedup.map((r) => fmt(r, 1)).join(', ')})`,
        met: ratio >= 15,
      },
    ],
  };
}
