import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DeadLetterRecord, QueuedEvent, TrackedPayload, Tracker } from '../../../lib/core';
import { deadLetterRecord } from '../../../lib/dead-letter/dead-letter-file';

/**
 * Real events built by the real Tracker, caught on their way to the emitter and turned into queued
 * events: `billing` of them are billing events, the rest custom events.
 */
export function trackedEvents(count: number, { billing = 0 } = {}): QueuedEvent[] {
  const built: TrackedPayload[] = [];
  const tracker = new Tracker({ appId: 'dead-letter-test', emitter: { enqueue: (payload) => built.push(payload) } });
  for (let i = 0; i < count; i++) {
    if (i < billing) {
      tracker.trackBillingEventWithOptionalInput(
        { category: 'ci', eventType: 'ci_minutes', realm: 'SaaS', unitOfMeasure: 'minute', quantity: i + 1 },
        { projectId: 42, globalUserId: `user-${i}`, uniqueInstanceId: 'instance-1' },
      );
    } else {
      tracker.trackEvent('dead_lettered', { i, nested: { ok: true } });
    }
  }
  return built.map((p) => ({ kind: p.kind, eid: p.eid, dtm: p.dtm, json: p.json, bytes: p.json.length, attempts: 3 }));
}

/** Dead-letter records of `count` real events, as the emitter would write them after a 503. */
export function records(count: number, options: { billing?: number } = {}): DeadLetterRecord[] {
  const cause = { statusCode: 503, error: 'HTTP 503' };
  return trackedEvents(count, options).map((event) => deadLetterRecord(event, 'expired', cause));
}

/** The JSONL text of `list`, as the file holds it. */
export function jsonl(list: readonly DeadLetterRecord[]): string {
  return list.map((record) => `${JSON.stringify(record)}\n`).join('');
}

/** Per test: a fresh temporary directory, removed afterwards. */
export function useTempDir(): { readonly path: string } {
  const dir = { path: '' };
  beforeEach(() => {
    dir.path = mkdtempSync(join(tmpdir(), 'dead-letter-'));
  });
  afterEach(() => {
    rmSync(dir.path, { recursive: true, force: true });
  });
  return dir;
}

/** Resolves after the current event-loop tick's immediates (where the file writes) have run. */
export function nextTick(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** A logger that keeps every error line. */
export function recordingLogger(): { lines: string[]; error(message: string): void; warn(message: string): void } {
  const lines: string[] = [];
  return { lines, error: (message) => lines.push(message), warn: (message) => lines.push(message) };
}
