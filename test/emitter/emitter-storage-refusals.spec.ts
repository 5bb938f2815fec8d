// What the emitter does when its SQLite outbox refuses writes: a real refusal, made by a trigger in
// the file (SQLite aborts the INSERT as a full disk would). The end-of-tick writes of custom events
// are told to the emitter (logged, counted, observed) and what is still unwritten at stop() is
// dead-lettered; a billing event whose commit fails is held in memory when the caller asked so.
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DeadLetterRecord,
  Emitter,
  EmitterObserver,
  EmitterOptions,
  SqliteStorage,
  StorageError,
  Tracker,
} from '../../lib/core';
import { LocalCollector, startLocalCollector } from '../../lib/testing/local-collector';
import { decodeAccepted } from '../support/decode';
import { waitFor } from '../support/wait-for';

type Driver = new (path: string) => { exec(sql: string): void; close(): void };
const BILL = { category: 'ci', eventType: 'minutes', realm: 'SaaS', unitOfMeasure: 'minute', quantity: 9 } as const;

describe('an emitter whose SQLite outbox refuses writes', () => {
  let dir: string;
  let path: string;
  let collector: LocalCollector;
  const emitters: Emitter[] = [];
  const lines: { level: string; message: string }[] = [];
  const logger = {
    log: (message: string) => void lines.push({ level: 'log', message }),
    warn: (message: string) => void lines.push({ level: 'warn', message }),
    error: (message: string) => void lines.push({ level: 'error', message }),
  };
  /** The observer's required hooks, and the storage failures it was told of when `ops` is given. */
  function observer(ops?: string[]): EmitterObserver {
    const base: EmitterObserver = {
      eventsEnqueued: () => undefined,
      requestFinished: () => undefined,
      eventsSent: () => undefined,
      eventsDropped: () => undefined,
      authFailed: () => undefined,
    };
    return ops ? { ...base, storageFailed: (op) => void ops.push(op) } : base;
  }
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'storage-refusals-'));
    path = join(dir, 'outbox.db');
    collector = await startLocalCollector();
    lines.length = 0;
  });
  afterEach(async () => {
    for (const emitter of emitters.splice(0)) await emitter.stop();
    await collector.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** The outbox file, made to refuse every INSERT into its events table. */
  function refuseInserts(): void {
    new SqliteStorage({ path }).close();
    const raw = new (require('better-sqlite3') as Driver)(path);
    raw.exec(
      `CREATE TRIGGER refuse BEFORE INSERT ON snowplow_events BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END`,
    );
    raw.close();
  }
  function refuseUpdates(): void {
    const raw = new (require('better-sqlite3') as Driver)(path);
    raw.exec(
      `CREATE TRIGGER refuse BEFORE UPDATE ON snowplow_events BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END`,
    );
    raw.close();
  }
  function allowInserts(): void {
    const raw = new (require('better-sqlite3') as Driver)(path);
    raw.exec('DROP TRIGGER refuse');
    raw.close();
  }
  function emitterOf(options: Partial<EmitterOptions> = {}): { emitter: Emitter; tracker: Tracker } {
    const emitter = new Emitter({
      collectorUrl: collector.endpoint,
      storage: { type: 'sqlite', path },
      logger,
      ...options,
    });
    emitters.push(emitter);
    return { emitter, tracker: new Tracker({ appId: 'storage-refusals', emitter }) };
  }
  const refusal = () => `Snowplow event store ${path}: cannot write events: database or disk is full`;
  const deadLetters = (file: string): DeadLetterRecord[] =>
    existsSync(file)
      ? readFileSync(file, 'utf8')
          .split('\n')
          .filter(Boolean)
          .map((line) => JSON.parse(line) as DeadLetterRecord)
      : [];

  it('logs, counts and observes a refused end-of-tick write; at stop() dead-letters what is still unwritten', async () => {
    refuseInserts();
    const deadLetter = join(dir, 'dead.jsonl');
    const ops: string[] = [];
    const { emitter, tracker } = emitterOf({ deadLetter: { path: deadLetter }, observer: observer(ops) });
    const eids = [tracker.trackEvent('one').eid, tracker.trackEvent('two').eid];
    await waitFor(() => lines.length > 0, { what: 'the refused write to be logged' });
    expect(lines[0]).toEqual({
      level: 'error',
      message: `could not write tracked events to the event store: ${refusal()}; they are kept in memory and written again`,
    });
    // The store retries the write (after 100 ms, then 200 ms, ...): each refusal counted, logged once per 10 s.
    await waitFor(() => ops.length >= 2, { what: 'the retried write to be refused too' });
    expect(ops.slice(0, 2)).toEqual(['flush', 'flush']);
    expect(emitter.stats().storageErrors).toBeGreaterThanOrEqual(2);
    // A refused commit is another kind of failure: logged too, although a write failed just before.
    expect(() => tracker.trackBillingEvent(BILL)).toThrow(StorageError);
    expect(ops.at(-1)).toBe('commit');
    const refusedWrites = ops.length;

    await emitter.stop();
    expect(ops.length).toBe(refusedWrites + 1);
    expect(ops.at(-1)).toBe('flush');
    expect(emitter.stats().storageErrors).toBeGreaterThanOrEqual(refusedWrites + 1);
    expect(lines).toContainEqual({
      level: 'error',
      message:
        `2 events (0 billing) could not be written to the event store at shutdown (${refusal()}); ` +
        `dead-lettered to ${deadLetter}`,
    });
    expect(lines.filter((line) => line.message.startsWith('could not write tracked events'))).toHaveLength(1);
    expect(lines).toContainEqual({
      level: 'error',
      message: `could not write a billing event to the event store: Snowplow event store ${path}: cannot write a billing event: database or disk is full`,
    });
    const records = deadLetters(deadLetter);
    expect(records.map((r) => r.eid).sort()).toEqual([...eids].sort());
    for (const record of records) {
      expect(record).toMatchObject({
        reason: 'shutdown',
        error: `the event store refused the write at shutdown: ${refusal()}`,
      });
    }
  });

  it('logs every refused lease (only refused writes are logged once per 10 s)', async () => {
    const first = emitterOf();
    first.tracker.trackEvent('kept');
    await first.emitter.stop();
    refuseUpdates();
    const { emitter } = emitterOf({ backoff: { baseMs: 10, capMs: 20 } });
    emitter.start();
    await waitFor(() => emitter.stats().storageErrors >= 3, { what: 'three refused leases' });
    const refusedLeases = lines.filter((line) => line.message.startsWith('could not take events from the event store'));
    expect(refusedLeases.length).toBeGreaterThanOrEqual(2);
    expect(refusedLeases[0]).toEqual({
      level: 'error',
      message: `could not take events from the event store: Snowplow event store ${path}: cannot lease events: database or disk is full`,
    });
  });

  it('says the unwritten events were dropped when no dead-letter file is set (an observer without storageFailed is fine)', async () => {
    refuseInserts();
    const { emitter, tracker } = emitterOf({ observer: observer() });
    tracker.trackEvent('one');
    await waitFor(() => lines.length > 0, { what: 'the refused write to be logged' });
    await emitter.stop();
    expect(lines).toContainEqual({
      level: 'error',
      message: `1 events (0 billing) could not be written to the event store at shutdown (${refusal()}); dropped`,
    });
    expect(lines.filter((line) => line.message.includes('observer threw'))).toEqual([]);
    expect(emitter.stats().dropped.shutdown).toBe(1);
  });

  it('holds a billing event whose commit fails when the caller asked so, tells onHeld (even one that throws), and sends it later', async () => {
    refuseInserts();
    // A shared outbox: the test's own connection can lift the refusal while the emitter runs.
    const { emitter, tracker } = emitterOf({ observer: observer(), storage: { type: 'sqlite', path, shared: true } });
    // Without 'hold', the caller gets the error and nothing is queued.
    expect(() => tracker.trackBillingEvent(BILL)).toThrow(StorageError);
    expect(emitter.queueDepth).toBe(0);

    const held: unknown[] = [];
    const result = tracker.trackBillingEventWithOptionalInput({ ...BILL, quantity: 4321 }, undefined, {
      whenNotCommitted: 'hold',
    });
    expect(result.notCommitted).toBeInstanceOf(StorageError);
    const eid = randomUUID();
    const dtm = Date.now();
    const json = JSON.stringify({
      e: 'se',
      eid,
      dtm: String(dtm),
      p: 'srv',
      tv: 'test-0',
      se_ca: 'ci',
      se_ac: 'minutes',
    });
    const payload = { kind: 'billing' as const, eid, dtm, json };
    emitter.enqueue(payload, {
      whenNotCommitted: 'hold',
      onHeld: (error) => {
        held.push(error);
        throw new Error('the callback broke');
      },
    });
    expect(held).toEqual([expect.any(StorageError)]);
    expect(emitter.queueDepth).toBe(2);
    expect(lines).toContainEqual({
      level: 'error',
      message: expect.stringMatching(
        new RegExp(
          `^billing event ${result.eid} could not be committed \\(StorageError: .*; its payload: .*"se_va":"4321"`,
        ),
      ),
    });
    expect(lines).toContainEqual({
      level: 'error',
      message: 'the onHeld callback of enqueue threw: the callback broke',
    });
    // Each refused commit is counted; the log says it once per 10 s.
    expect(emitter.stats().storageErrors).toBe(3);
    expect(lines[0]).toEqual({
      level: 'error',
      message: `could not write a billing event to the event store: Snowplow event store ${path}: cannot write a billing event: database or disk is full`,
    });
    expect(lines.filter((line) => line.message.startsWith('could not write a billing event'))).toHaveLength(1);

    allowInserts();
    emitter.start();
    expect((await emitter.drain(20_000)).drained).toBe(true);
    expect(
      decodeAccepted(collector)
        .map((event) => event.eid)
        .sort(),
    ).toEqual([result.eid, eid].sort());
  });
});
