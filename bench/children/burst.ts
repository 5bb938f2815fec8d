/**
 * Row 2: a burst of events tracked in one synchronous loop, then delivered. The parent resets the
 * collector, sends `go`, watches the collector until it has every event (or stops receiving), then
 * sends `finish`; this process answers with its RSS figures and exits.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { main, params, receive, report } from '../support/child';
import { createSubject, SubjectName } from '../support/subjects';

interface Params {
  subject: SubjectName;
  collectorPort: number;
  events: number;
  warmup: number;
}

main(async () => {
  const p = params<Params>();
  const subject = createSubject(p.subject, p.collectorPort);
  // A small warm-up: JIT, keep-alive sockets. It is delivered before the parent resets the collector.
  for (let i = 0; i < p.warmup; i++) subject.track();
  const settleBy = Date.now() + 5_000;
  while ((await subject.queued()) > 0 && Date.now() < settleBy) await sleep(20);
  await sleep(100);
  const rssBefore = process.memoryUsage().rss;
  const go = receive('go');
  await report({ type: 'ready' });

  await go;
  const startedAt = performance.timeOrigin + performance.now();
  for (let i = 0; i < p.events; i++) subject.track();
  const trackedAt = performance.timeOrigin + performance.now();
  const finish = receive('finish');
  await report({ type: 'tracked', startedAt, trackedAt });

  await finish;
  await report({
    type: 'result',
    rssBefore,
    peakRss: process.resourceUsage().maxRSS * 1024,
    queuedAtEnd: await subject.queued(),
  });
  await subject.close(1_000);
});
