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
import { collectGarbage, main, mark, params, report } from '../support/child';
import { instructionSubject, InstructionSubjectName } from '../support/instruction-subjects';

interface Params {
  subject: InstructionSubjectName;
  collectorPort: number;
  batch: number;
  warmupBatches: number;
  /** Batches per measured interval, in order (N and 2N, alternating). */
  sizes: number[];
}

main(async () => {
  const p = params<Params>();
  const subject = instructionSubject(p.subject, { collectorPort: p.collectorPort, batch: p.batch });
  let tracked = 0;
  const batches = async (count: number) => {
    for (let b = 0; b < count; b++) {
      for (let i = 0; i < p.batch; i++) subject.track();
      tracked += p.batch;
      await subject.delivered(tracked, 600_000);
    }
  };
  await batches(p.warmupBatches);
  for (const size of p.sizes) {
    collectGarbage();
    await mark('setup');
    await batches(size);
    await mark(`batches ${size}`);
  }
  await subject.close();
  await report({ type: 'result', tracked });
});
