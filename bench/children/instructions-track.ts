/**
 * `npm run bench:instructions`, per `trackEvent` (and per `trackSelfDescribingEvent` with two
 * entities): the track call into the library's own queue, nothing sent. Under callgrind; each
 * measured interval tracks `sizes[i]` events into a fresh subject after a full GC, and is counted on
 * its own (`mark`, bench/support/callgrind.ts). The orchestrator takes the difference of an N and a
 * 2N interval over N (bench/instructions.ts).
 *
 * - ours: `Tracker` over a real `Emitter` (defaults but `capacity`, sized for the interval's calls
 *   so that none is overwritten), send loop not started;
 * - node-tracker: `newTracker` with its own emitter and in-memory store (unbounded), `bufferSize`
 *   above the number of calls so that it never sends.
 *
 * Calls go in chunks with an event-loop turn between (as in a server). Warm-up first, same code,
 * into a subject held to the end; then rehearsals (see main).
 */
import { setImmediate as nextTurn } from 'node:timers/promises';
import { collectGarbage, main, mark, params, report } from '../support/child';
import {
  InstructionEvent,
  instructionSubject,
  InstructionSubject,
  InstructionSubjectName,
} from '../support/instruction-subjects';

interface Params {
  subject: InstructionSubjectName;
  /** The event tracked: `trackEvent`'s, or the self-describing one with two entities. */
  event: InstructionEvent;
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

/** Intervals run as the measured ones before them, not counted (see below). */
const REHEARSALS = 3;

main(async () => {
  const p = params<Params>();
  // The warm-up subject is held to the end. A full GC that leaves no object of a shape (an emitter,
  // a queued event) frees that shape, and V8 throws away the optimised code and the feedback that
  // name it ("weak objects" in --trace-deopt): every interval then ran cold code again, deoptimised
  // and recompiled, and where those fell moved a pair's figure by up to 15 % (bench/README.md).
  const warm = instructionSubject(p.subject, { holdAll: p.warmup + 1 }, p.event);
  await track(warm, p.warmup, p.chunk);
  // Then intervals exactly as the measured ones, marks included, whose counts are not used
  // (labelled `setup`): what runs once per fresh subject and per mark is optimised before the first
  // measured interval too.
  const rehearsal = Math.max(...p.sizes);
  const intervals = [
    ...Array.from({ length: REHEARSALS }, () => ({ size: rehearsal, label: 'setup' })),
    ...p.sizes.map((size) => ({ size, label: `track ${size}` })),
  ];
  for (const { size, label } of intervals) {
    // The previous subject and its events are garbage from here: the GC takes them before the mark.
    const subject = instructionSubject(p.subject, { holdAll: size + 1 }, p.event);
    collectGarbage();
    await mark('setup');
    await track(subject, size, p.chunk);
    await mark(label);
  }
  const held = await warm.held();
  if (held !== p.warmup) throw new Error(`the warm-up subject holds ${held} events, not ${p.warmup}`);
  await report({ type: 'result', tracked: p.warmup + intervals.reduce((sum, { size }) => sum + size, 0) });
});
