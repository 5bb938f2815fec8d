// The SQLite outbox as the README describes it, checked on the real file: storage errors on a
// real database, WAL with synchronous=NORMAL, one transaction per tick, checkpoints, and a file
// shared by real processes.
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { QueuedEvent, SqliteStorage, StorageError } from '../../lib/core';
import { LocalCollector, startLocalCollector } from '../../lib/testing/local-collector';
import { waitFor } from '../support/wait-for';
import { outboxEmitter } from './support/outbox-emitter';
import { walFrames } from './support/wal';

const nextTick = () => new Promise((resolve) => setImmediate(resolve));

/** A real SQLite outbox whose deletes fail the first `failures` times, as on a full disk. */
class AckFailingStorage extends SqliteStorage {
  ackCalls = 0;
  constructor(
    path: string,
    private failures: number,
  ) {
    super({ path });
  }
  override ack(events: readonly QueuedEvent[]): void {
    this.ackCalls++;
    if (this.failures-- > 0)
      throw new StorageError(this.path, 'cannot delete delivered events: database or disk is full');
    super.ack(events);
  }
}

/** The connection's own settings: what the outbox opened the file with. */
function pragma(storage: SqliteStorage, name: string): unknown {
  const db = (storage as unknown as { db: { pragma(p: string, o: { simple: true }): unknown } }).db;
  return db.pragma(name, { simple: true });
}

let dir: string;
let path: string;
let collector: LocalCollector;
beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'snowplow-outbox-'));
  path = join(dir, 'outbox.db');
  collector = await startLocalCollector();
});
afterEach(async () => {
  await collector.close();
  rmSync(dir, { recursive: true, force: true });
});

const emitterOn = (storage: Parameters<typeof outboxEmitter>[1], batchSize?: number) =>
  outboxEmitter(collector.endpoint, storage, batchSize);

describe('a real SQLite outbox whose deletes fail', () => {
  it('delete failing for good: delivered rows stay in the file, nothing is resent from memory, and a restart resends exactly them', async () => {
    const storage = new AckFailingStorage(path, Number.MAX_SAFE_INTEGER);
    const first = emitterOn(storage);
    const eids = Array.from({ length: 30 }, (_, i) => first.tracker.trackEvent('kept_on_disk', { i }).eid);
    await collector.waitForEvents(30);
    await expect(first.emitter.drain(30_000)).resolves.toMatchObject({ drained: true });
    // New events make the loop try again: each pass retries the held deletes first and, while they
    // fail, leases nothing, so neither the delivered rows nor the new ones are sent.
    const later = Array.from({ length: 5 }, (_, i) => first.tracker.trackEvent('tracked_later', { i }).eid);
    await waitFor(() => storage.ackCalls >= 3 + 5, { what: 'several retried deletes' });
    expect(collector.counts().accepted).toEqual({ total: 30, distinct: 30 });
    await first.emitter.stop();
    storage.close();

    const second = emitterOn({ type: 'sqlite', path });
    await expect(second.emitter.drain(30_000)).resolves.toMatchObject({ sent: 35, drained: true });
    await second.emitter.stop();
    // The 30 delivered before the failed deletes come exactly once more, the 5 later ones once.
    expect(collector.counts().accepted).toEqual({ total: 65, distinct: 35 });
    const resent = collector
      .events()
      .slice(30)
      .map((e) => e.eid);
    expect([...resent].sort()).toEqual([...eids, ...later].sort());
    const reopened = new SqliteStorage({ path });
    expect(reopened.size).toBe(0);
    reopened.close();
  });

  it('a delete that fails once is retried before the next lease: a restart resends nothing', async () => {
    const storage = new AckFailingStorage(path, 1);
    const first = emitterOn(storage);
    const eids = Array.from({ length: 30 }, (_, i) => first.tracker.trackEvent('acked_late', { i }).eid);
    await expect(first.emitter.drain(30_000)).resolves.toMatchObject({ sent: 30, drained: true });
    await first.emitter.stop();
    storage.close();

    const reopened = new SqliteStorage({ path });
    expect(reopened.size).toBe(0);
    reopened.close();
    expect(collector.counts().accepted).toEqual({ total: 30, distinct: 30 });
    expect(new Set(collector.events().map((e) => e.eid))).toEqual(new Set(eids));
  });
});

describe('the outbox file', () => {
  it('is opened in WAL mode with synchronous=NORMAL', () => {
    const storage = new SqliteStorage({ path });
    expect(pragma(storage, 'journal_mode')).toBe('wal');
    expect(pragma(storage, 'synchronous')).toBe(1); // 0 OFF, 1 NORMAL, 2 FULL
    storage.close();
  });

  it('commits a billing event before add() returns, in a transaction of its own; the custom events of the tick follow in one', async () => {
    const storage = new SqliteStorage({ path });
    const before = walFrames(`${path}-wal`).commits;
    for (let i = 0; i < 1_000; i++) {
      storage.add({ kind: 'custom', eid: `c${i}`, dtm: i, json: `{"i":${i}}`, bytes: 10, attempts: 0 });
    }
    expect(walFrames(`${path}-wal`).commits).toBe(before);
    storage.add({ kind: 'billing', eid: 'b1', dtm: 1, json: '{"e":"se"}', bytes: 10, attempts: 0 });
    expect(walFrames(`${path}-wal`).commits).toBe(before + 1);
    await nextTick();
    expect(walFrames(`${path}-wal`).commits).toBe(before + 2);
    storage.close();
    const reopened = new SqliteStorage({ path });
    expect([reopened.sizeOf('custom'), reopened.sizeOf('billing')]).toEqual([1_000, 1]);
    reopened.close();
  });
});

describe('SqliteStorage options and misuse', () => {
  it.each<[string, Record<string, unknown>, string]>([
    ['an empty path', { path: '  ' }, 'Invalid Snowplow option "storage.path": must be a non-empty file path'],
    ['a capacity of 0', { capacity: 0 }, 'Invalid Snowplow option "storage.capacity": must be an integer >= 1'],
    ['a fractional capacity', { capacity: 1.5 }, '"storage.capacity": must be an integer >= 1'],
    ['a string billing capacity', { billingCapacity: '5' }, '"billing.capacity": must be an integer >= 1'],
    ['a lease timeout of 0', { leaseTimeoutMs: 0 }, '"storage.leaseTimeoutMs": must be an integer >= 1'],
  ])('refuses %s, naming the option', (_case, options, message) => {
    expect(() => new SqliteStorage({ path, ...options } as never)).toThrow(message);
  });

  it('defaults both capacities to 10,000', () => {
    const storage = new SqliteStorage({ path });
    expect([storage.capacity, storage.billingCapacity, storage.durable]).toEqual([10_000, 10_000, true]);
    storage.close();
  });

  it('refuses a bad lease count and a batch that is not an array; after close() every call throws', () => {
    const storage = new SqliteStorage({ path });
    expect(() => storage.lease(-1)).toThrow('"maxCount": must be a non-negative integer');
    expect(() => storage.lease(1.5)).toThrow('"maxCount"');
    expect(() => storage.addBatch('e1' as never)).toThrow('"events": must be an array');
    expect(storage.lease(0)).toEqual([]);
    storage.close();
    storage.close(); // twice is fine
    const event: QueuedEvent = { kind: 'custom', eid: 'late', dtm: 1, json: '{}', bytes: 2, attempts: 0 };
    for (const call of [() => storage.add(event), () => storage.lease(1), () => storage.ack([event])]) {
      expect(call).toThrow(StorageError);
      expect(call).toThrow(`Snowplow event store ${path}: is closed`);
    }
  });

  it('refuses a file written by an unknown later version, and leaves it as it was', () => {
    const Driver = require('better-sqlite3') as typeof import('better-sqlite3');
    const future = new Driver(path);
    future.exec(`CREATE TABLE snowplow_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
      INSERT INTO snowplow_meta VALUES ('schema_version', '9');`);
    future.close();
    expect(() => new SqliteStorage({ path })).toThrow(StorageError);
    expect(() => new SqliteStorage({ path })).toThrow(
      'was written by an unknown version of nestjs-snowplow (schema 9)',
    );
    const check = new Driver(path);
    expect(check.prepare("SELECT value FROM snowplow_meta WHERE key = 'schema_version'").pluck().get()).toBe('9');
    check.close();
  });

  it('shared: a lease not acked or released within leaseTimeoutMs goes back to the queue', async () => {
    const a = new SqliteStorage({ path, shared: true, leaseTimeoutMs: 300 });
    const b = new SqliteStorage({ path, shared: true });
    a.addBatch(
      [1, 2, 3].map((n) => ({ kind: 'custom' as const, eid: `e${n}`, dtm: n, json: '{}', bytes: 2, attempts: 0 })),
    );
    const leased = a.lease(2);
    expect(leased.map((e) => e.eid)).toEqual(['e1', 'e2']);
    // The leasing process lives on: only the timeout brings its events back.
    expect(b.size).toBe(1);
    await waitFor(() => b.size === 3, { timeoutMs: 10_000, what: 'the lease to time out' });
    expect(b.lease(10).map((e) => e.eid)).toEqual(['e1', 'e2', 'e3']);
    a.close();
    b.close();
  });
});

describe('the outbox reclaims space', () => {
  it('a new file uses incremental vacuum and a bounded WAL; deleted pages go back to the file system', () => {
    const storage = new SqliteStorage({ path, capacity: 200 });
    expect(pragma(storage, 'auto_vacuum')).toBe(2); // INCREMENTAL
    expect(pragma(storage, 'journal_size_limit')).toBe(4_194_304);
    const pad = 'v'.repeat(8_000);
    let peakPages = 0;
    for (let round = 0; round < 20; round++) {
      storage.addBatch(
        Array.from({ length: 200 }, (_, i) => ({
          kind: 'custom' as const,
          eid: `r${round}-${i}`,
          dtm: i,
          json: `{"pad":"${pad}"}`,
          bytes: 8_010,
          attempts: 0,
        })),
      );
      storage.lease(0); // writes the batch
      peakPages = Math.max(peakPages, pragma(storage, 'page_count') as number);
      storage.ack(storage.lease(200)); // 200 deletes: one capacity's worth, so space is reclaimed
    }
    // 200 rows of 8 KB take ~400 pages; once deleted they are handed back to the file system
    // (without the vacuum they would stay in the file as ~400 free pages).
    expect(peakPages).toBeGreaterThan(256);
    expect(pragma(storage, 'freelist_count')).toBeLessThan(256);
    storage.close();
    expect(statSync(path).size).toBeLessThan(1024 * 1024);
  });
});
