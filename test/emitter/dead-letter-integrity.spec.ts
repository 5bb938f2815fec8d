// What a dead-letter line promises: its event leaves a durable outbox only once the line is on
// disk (a write that fails keeps the event, backs off and is counted), and its `attempts` counts
// every request that carried the event.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Registry } from 'prom-client';
import { DeadLetterRecord, Emitter, EmitterOptions, Tracker } from '../../lib/core';
import { EmitterMetrics } from '../../lib/metrics';
import { LocalCollector, startLocalCollector } from '../../lib/testing/local-collector';
import { waitFor } from '../support/wait-for';

const BILL = { category: 'ci', eventType: 'ci_minutes', realm: 'SaaS', unitOfMeasure: 'minute', quantity: 2 } as const;

function recordingLogger() {
  const lines: Array<{ level: string; message: string }> = [];
  const at = (level: string) => (message: string) => void lines.push({ level, message });
  return { lines, logger: { log: at('log'), warn: at('warn'), error: at('error') } };
}

function readDeadLetters(path: string): DeadLetterRecord[] {
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as DeadLetterRecord);
}

/** Rows in the outbox file, leased or not (read once no emitter holds it). */
function rowsIn(db: string): string[] {
  const conn = new Database(db, { readonly: true });
  try {
    return (conn.prepare('SELECT eid FROM snowplow_events ORDER BY eid').all() as Array<{ eid: string }>).map(
      (r) => r.eid,
    );
  } finally {
    conn.close();
  }
}

function metricValue(text: string, name: string): number {
  const match = new RegExp(`^${name} (\\d+)$`, 'm').exec(text);
  return match ? Number(match[1]) : NaN;
}

describe('dead-letter integrity', () => {
  let collector: LocalCollector;
  let dir: string;
  const emitters: Emitter[] = [];
  const restores: Array<() => void> = [];

  beforeEach(async () => {
    collector = await startLocalCollector();
    dir = mkdtempSync(join(tmpdir(), 'dead-letter-integrity-'));
  });
  afterEach(async () => {
    for (const emitter of emitters.splice(0)) await emitter.stop();
    restores.splice(0).forEach((restore) => restore());
    await collector.close();
    rmSync(dir, { recursive: true, force: true });
  });

  function start(options: Partial<EmitterOptions>): { emitter: Emitter; tracker: Tracker } {
    const emitter = new Emitter({ collectorUrl: collector.endpoint, lingerMs: 0, ...options });
    emitters.push(emitter);
    emitter.start();
    return { emitter, tracker: new Tracker({ appId: 'integrity', emitter }) };
  }

  /** Full jitter draws its ceiling: every backoff delay is known in advance. */
  function maxJitter(): void {
    const random = jest.spyOn(Math, 'random').mockReturnValue(0.9999);
    restores.push(() => random.mockRestore());
  }

  describe('attempts', () => {
    it('an event refused with 400 after two 500s: its dead-letter line says attempts 3', async () => {
      collector.behaviour = (_r, index) => ({ status: index < 2 ? 500 : 400 });
      const deadLetter = join(dir, 'dead.jsonl');
      const { emitter, tracker } = start({
        deadLetter: { path: deadLetter },
        backoff: { baseMs: 10, factor: 1, capMs: 10 },
        logger: recordingLogger().logger,
      });
      const { eid } = tracker.trackBillingEvent(BILL);
      expect((await emitter.drain(10_000)).drained).toBe(true);
      expect(collector.requests.map((r) => r.status)).toEqual([500, 500, 400]);
      await emitter.stop();
      expect(readDeadLetters(deadLetter)).toEqual([
        expect.objectContaining({ eid, reason: 'rejected', statusCode: 400, attempts: 3 }),
      ]);
    });

    it('a SQLite outbox keeps the attempts across a restart: two 500s in one process, the 400 in the next, attempts 3', async () => {
      const db = join(dir, 'outbox.db');
      const deadLetter = join(dir, 'dead.jsonl');
      // Two 500s, then a request held until stop() cuts it: that one is no attempt.
      collector.behaviour = (_r, index) => (index < 2 ? { status: 500 } : { hang: true });
      const first = start({
        storage: { type: 'sqlite', path: db },
        backoff: { baseMs: 10, factor: 1, capMs: 10 },
        logger: recordingLogger().logger,
      });
      const { eid } = first.tracker.trackBillingEvent(BILL);
      await waitFor(() => collector.requests.length === 3, { timeoutMs: 10_000, what: 'two 500s and a held request' });
      await first.emitter.stop();

      collector.behaviour = () => ({ status: 400 });
      const second = start({
        storage: { type: 'sqlite', path: db },
        deadLetter: { path: deadLetter },
        logger: recordingLogger().logger,
      });
      expect((await second.emitter.drain(10_000)).drained).toBe(true);
      await second.emitter.stop();
      expect(collector.requests.map((r) => r.status ?? r.fate)).toEqual([500, 500, 'hung', 400]);
      expect(readDeadLetters(deadLetter)).toEqual([
        expect.objectContaining({ eid, reason: 'rejected', statusCode: 400, attempts: 3 }),
      ]);
    });
  });

  describe('no record, no delete', () => {
    it('/dev/full as the dead-letter file, a SQLite outbox and a collector answering 400: the rows stay, the failure is counted and retried after a backoff; with a writable file the lines are written and the rows deleted', async () => {
      maxJitter();
      const db = join(dir, 'outbox.db');
      collector.behaviour = () => ({ status: 400 });
      const registry = new Registry();
      const metrics = new EmitterMetrics({ registry });
      const { lines, logger } = recordingLogger();
      const first = start({
        storage: { type: 'sqlite', path: db },
        deadLetter: { path: '/dev/full' },
        observer: metrics,
        logger,
        backoff: { baseMs: 100, factor: 2, capMs: 1_000 },
      });
      metrics.watch(first.emitter);
      const eids = [1, 2, 3].map(() => first.tracker.trackBillingEvent(BILL).eid);
      // Each round sends the three in one batch, then halves it down to each event's own 400.
      const rounds = () =>
        collector.requests.filter((r) => (JSON.parse(r.body) as { data: unknown[] }).data.length === 3);
      await waitFor(() => rounds().length >= 3, { timeoutMs: 15_000, what: 'three rounds' });
      const [r1, r2, r3] = rounds().map((r) => r.receivedAt);
      // Backed off (ceilings 100, then 200 ms), not hot-looped.
      expect(r2 - r1).toBeGreaterThanOrEqual(90);
      expect(r3 - r2).toBeGreaterThanOrEqual(190);

      expect(
        metricValue(await registry.metrics(), 'snowplow_dead_letter_write_failures_total{tracker="default"}'),
      ).toBeGreaterThanOrEqual(6);
      const stats = first.emitter.stats();
      expect(stats.dropped.rejected).toBe(0);
      expect(stats.sent).toBe(0);
      const errors = lines.filter((l) => l.level === 'error').map((l) => l.message);
      expect(errors).toContainEqual(
        expect.stringMatching(
          /^\d events could not be dead-lettered to \/dev\/full \(ENOSPC.*\); they stay in the outbox and are tried again after a backoff$/,
        ),
      );
      await first.emitter.stop();
      expect(rowsIn(db)).toEqual([...eids].sort());

      // The same outbox with a writable dead-letter file: the lines are written, then the rows go.
      const deadLetter = join(dir, 'dead.jsonl');
      const second = start({ storage: { type: 'sqlite', path: db }, deadLetter: { path: deadLetter }, logger });
      expect((await second.emitter.drain(10_000)).drained).toBe(true);
      await second.emitter.stop();
      const records = readDeadLetters(deadLetter);
      expect(records.map((r) => r.eid).sort()).toEqual([...eids].sort());
      expect(records.every((r) => r.kind === 'billing' && r.reason === 'rejected' && r.attempts >= 4)).toBe(true);
      expect(rowsIn(db)).toEqual([]);
      expect(second.emitter.stats().billing.dropped.rejected).toBe(3);
    });

    it('in memory, with no outbox: a dead letter that cannot be written is logged with its whole payload at error level and counted', async () => {
      collector.behaviour = () => ({ status: 400 });
      const registry = new Registry();
      const metrics = new EmitterMetrics({ registry });
      const { lines, logger } = recordingLogger();
      const { emitter, tracker } = start({ deadLetter: { path: '/dev/full' }, observer: metrics, logger });
      const { eid } = tracker.trackBillingEvent(BILL);
      expect((await emitter.drain(10_000)).drained).toBe(true);
      await waitFor(() => lines.some((l) => l.message.includes('could not write a dead letter')), {
        what: 'the logged record',
      });
      const logged = lines.find((l) => l.message.includes('could not write a dead letter'))!;
      expect(logged.level).toBe('error');
      const record = JSON.parse(logged.message.slice(logged.message.indexOf('{'))) as DeadLetterRecord;
      expect(record).toMatchObject({ eid, kind: 'billing', reason: 'rejected', payload: { eid, se_ac: 'ci_minutes' } });
      expect(emitter.stats().billing.dropped.rejected).toBe(1);
      expect(
        metricValue(await registry.metrics(), 'snowplow_dead_letter_write_failures_total{tracker="default"}'),
      ).toBe(1);
    });
  });
});
