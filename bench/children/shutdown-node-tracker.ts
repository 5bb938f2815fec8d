/**
 * Row 4 (node-tracker): tracks N events, then `await tracker.flush()` and exits, as its docs
 * advise before a process ends. The parent then asks the collector how many arrived.
 */
import { main, params, report } from '../support/child';
import { createSubject, SubjectName } from '../support/subjects';

interface Params {
  subject: SubjectName;
  collectorPort: number;
  events: number;
}

main(async () => {
  const p = params<Params>();
  const subject = createSubject(p.subject, p.collectorPort);
  for (let i = 0; i < p.events; i++) subject.track();
  const flushStarted = performance.now();
  // close() is `await tracker.flush()` (bounded at 60 s so that a hang cannot stall the bench).
  await subject.close(60_000);
  await report({ type: 'result', flushMs: performance.now() - flushStarted, queuedAfterFlush: await subject.queued() });
});
