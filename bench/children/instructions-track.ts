/**
 * `npm run bench:instructions`, per `trackEvent`: the track call into the library's own queue,
 * nothing sent. Under callgrind; each measured interval tracks `sizes[i]` events into a fresh
 * subject after a full GC, and is counted on its own (`mark`, bench/support/callgrind.ts). The
 * orchestrator takes the difference of an N and a 2N interval over N (bench/instructions.ts).
 *
 * - ours: `Tracker` over a real `Emitter` (defaults but `capacity`, sized for the interval's calls
 *   so that none is overwritten), send loop not started;
 * - node-tracker: `newTracker` with its own emitter and in-memory store (unbounded), `bufferSize`
 *   above the number of calls so that it never sends.
 *
 * Calls go in chunks with an event-loop turn between (as in a server). Warm-up first, same code.
 */
import { setImmediate as nextTurn } from 'node:timers/promises';
import { collectGarbage, main, mark, params, report } from '../support/child';
import { instructionSubject, InstructionSubject, InstructionSubjectName } from '../support/instruction-subjects';

interface Params {
  subject: InstructionSubjectName;
  warmup: number;
  /** Calls per measured interval, in order (N and 2N, alternating). */
  sizes: number[];
  chunk: number;
}

async function track(subject: InstructionSubject, calls: number, chunk: number): Promise<void> {
  for (let done = 0; done < calls; done += chunk) {
    const n = Math.min(chunk, calls - done);
    for (let i = 0; i < n; i++) subject.track();
    await nextTurn();
  }
  const held = await subject.held();
  if (held !== calls) throw new Error(`${held} events held after ${calls} calls`);
}

main(async () => {
  const p = params<Params>();
  let subject = instructionSubject(p.subject, { holdAll: p.warmup + 1 });
  await track(subject, p.warmup, p.chunk);
  for (const size of p.sizes) {
    // The previous subject and its events are garbage from here: the GC takes them before the mark.
    subject = instructionSubject(p.subject, { holdAll: size + 1 });
    collectGarbage();
    await mark('setup');
    await track(subject, size, p.chunk);
    await mark(`track ${size}`);
  }
  await report({ type: 'result', tracked: p.warmup + p.sizes.reduce((a, b) => a + b, 0) });
});
