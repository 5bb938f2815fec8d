/**
 * `npm run bench:instructions`, per delivered event at a fixed batch size: track `batch` events,
 * wait until the collector (the bench collector, another process) has accepted them, repeat.
 * `warmupBatches` first (the send path's JIT needs a long warm-up), then measured intervals of
 * `sizes[i]` batches each, after a full GC, each counted on its own under callgrind (`mark`). The
 * orchestrator checks at the collector that every event arrived, once.
 *
 * - ours: `Emitter` with `batchSize` = `maxBatchSize` = batch, send loop started; the wait is
 *   `drain()` (which skips the linger);
 * - node-tracker: its emitter with `bufferSize` = batch (a full buffer sends at once) and
 *   `maxPostBytes` 1,000,000 (as our `maxBatchBytes`: one request per batch); the wait counts
 *   `onRequestSuccess`.
 */
import { main, mark, params, report } from '../support/child';
import { instructionSubject, InstructionSubjectName } from '../support/instruction-subjects';

interface Params {
  subject: InstructionSubjectName;
  collectorPort: number;
  batch: number;
  /**
   * Warm-up first: batches of one event, each sent at once. The send path's per-request code
   * (axios, node:http, the send pass) runs once per batch, and V8 optimises a function only after
   * it has run enough: at batches of 100 it still compiled 2–10 functions per interval of 30 batches
   * after 400 batches (callgrind, `--trace-opt`). Single-event batches run that code as often for
   * a hundredth of the events.
   */
  primeBatches: number;
  /** Then full batches, as measured. */
  warmupBatches: number;
  /** Batches per measured interval, in order (N and 2N, alternating). */
  sizes: number[];
}

main(async () => {
  const p = params<Params>();
  const subject = instructionSubject(p.subject, { collectorPort: p.collectorPort, batch: p.batch });
  let tracked = 0;
  const batches = async (count: number, size = p.batch) => {
    for (let b = 0; b < count; b++) {
      for (let i = 0; i < size; i++) subject.track();
      tracked += size;
      await subject.delivered(tracked, 600_000, size < p.batch);
    }
  };
  await batches(p.primeBatches, 1);
  await batches(p.warmupBatches);
  // No full GC between intervals (unlike per trackEvent): with nothing held, a forced GC frees
  // objects that optimised code embeds, and V8 throws that code away ("deoptimization, reason:
  // weak objects"). Every interval then compiled 11–26 functions again, 75–165 million
  // instructions that moved from interval to interval. Without it, only scavenges run here.
  for (const size of p.sizes) {
    await mark('setup');
    await batches(size);
    await mark(`batches ${size}`);
  }
  await subject.close();
  await report({ type: 'result', tracked });
});
