/**
 * Row 10: a replay of a big dead-letter file. Mode `write` writes the file (in a process of its
 * own, so that building the events does not count in the replay's memory): `lines` billing events
 * built by the real Tracker, as dead-letter records, written 1,000 at a time. Mode `replay` runs
 * `replayDeadLetters` on it against the bench collector, in a fresh process, and reports the time
 * it took and the process's peak RSS (maxRSS, which includes the ~40 MB of node and the library).
 */
import { appendFileSync, writeFileSync } from 'node:fs';
import { replayDeadLetters, TrackedPayload, Tracker } from 'nestjs-snowplow/core';
import { main, params, report } from '../support/child';

interface Params {
  mode: 'write' | 'replay';
  path: string;
  lines: number;
  collectorPort: number;
}

const CHUNK = 1_000;

function write(p: Params): void {
  writeFileSync(p.path, '', { mode: 0o600 });
  let built: TrackedPayload[] = [];
  const tracker = new Tracker({ appId: 'bench-replay', emitter: { enqueue: (payload) => built.push(payload) } });
  const at = new Date().toISOString();
  for (let done = 0; done < p.lines; done += CHUNK) {
    for (let i = done; i < Math.min(done + CHUNK, p.lines); i++) {
      tracker.trackBillingEventWithOptionalInput(
        { category: 'ci', eventType: 'ci_minutes', realm: 'SaaS', unitOfMeasure: 'minute', quantity: (i % 100) + 1 },
        { projectId: 42, globalUserId: `user-${i}`, uniqueInstanceId: 'instance-1' },
      );
    }
    const text = built
      .map(({ eid, kind, json }) => {
        const record = { eid, kind, reason: 'expired', statusCode: 503, error: 'HTTP 503', at, attempts: 3 };
        return `${JSON.stringify({ ...record, payload: JSON.parse(json) as unknown })}\n`;
      })
      .join('');
    appendFileSync(p.path, text);
    built = [];
  }
}

main(async () => {
  const p = params<Params>();
  if (p.mode === 'write') {
    write(p);
    await report({ type: 'result' });
    return;
  }
  const rssBefore = process.memoryUsage().rss;
  const collectorUrl = `http://127.0.0.1:${p.collectorPort}/com.snowplowanalytics.snowplow/tp2`;
  const logged: string[] = [];
  const logger = { warn: (line: string) => logged.push(line), error: (line: string) => logged.push(line) };
  const started = performance.now();
  const result = await replayDeadLetters(p.path, { collectorUrl, timeoutMs: 600_000, logger });
  const ms = performance.now() - started;
  const peakRss = process.resourceUsage().maxRSS * 1024;
  if (result.delivered !== p.lines || result.remaining !== 0) {
    throw new Error(
      `replay delivered ${result.delivered} of ${p.lines}: ${JSON.stringify(result)} ${logged.join('; ')}`,
    );
  }
  await report({ type: 'result', ms, peakRss, rssBefore, logged: logged.length });
});
