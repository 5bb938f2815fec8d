/**
 * Row 3: memory with N events queued while the collector is down (nothing listens on the port).
 * Run once with N = 0 (the baseline: library loaded, tracker and emitter built) and once with
 * N = 10,000, each in a fresh process started with --expose-gc.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { main, params, report } from '../support/child';
import { createSubject, SubjectName } from '../support/subjects';

interface Params {
  subject: SubjectName;
  deadPort: number;
  events: number;
}

async function collectGarbage(): Promise<void> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('memory.ts needs --expose-gc');
  for (let i = 0; i < 3; i++) {
    gc();
    await sleep(20);
  }
}

main(async () => {
  const p = params<Params>();
  const subject = createSubject(p.subject, p.deadPort);
  for (let i = 0; i < p.events; i++) subject.track();
  // Let the emitter try, fail (connection refused) and go back to waiting.
  await sleep(1_000);
  await collectGarbage();
  const usage = process.memoryUsage();
  await report({
    type: 'result',
    rss: usage.rss,
    heapUsed: usage.heapUsed,
    external: usage.external + usage.arrayBuffers,
    queued: await subject.queued(),
  });
  process.exit(0);
});
