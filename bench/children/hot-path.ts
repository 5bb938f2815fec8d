/**
 * Row 1: nanoseconds per track call. The calls run in chunks with an event-loop turn between
 * chunks (as in a server, where the emitter sends while requests come in); only the time inside
 * the chunks is counted, i.e. what the caller waits for.
 */
import { setImmediate as nextTurn, setTimeout as sleep } from 'node:timers/promises';
import { main, params, report } from '../support/child';
import { createSubject, Subject, SubjectName } from '../support/subjects';

interface Params {
  subject: SubjectName;
  collectorPort: number;
  calls: number;
  chunk: number;
  warmup: number;
}

async function timedCalls(subject: Subject, calls: number, chunk: number): Promise<bigint> {
  let total = 0n;
  for (let done = 0; done < calls; done += chunk) {
    const n = Math.min(chunk, calls - done);
    const started = process.hrtime.bigint();
    for (let i = 0; i < n; i++) subject.track();
    total += process.hrtime.bigint() - started;
    await nextTurn();
  }
  return total;
}

async function settle(subject: Subject, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while ((await subject.queued()) > 0 && Date.now() < deadline) await sleep(20);
}

main(async () => {
  const p = params<Params>();
  const subject = createSubject(p.subject, p.collectorPort);
  await timedCalls(subject, p.warmup, p.chunk);
  await settle(subject, 5_000);
  const total = await timedCalls(subject, p.calls, p.chunk);
  await report({ type: 'result', nsPerCall: Number(total) / p.calls, calls: p.calls });
  await subject.close(5_000);
});
