// Edges of the storages that the contract suite does not reach: createStorage's configs, the
// billing lane growing past its initial slots (fifo growth), sizes while custom events wait in
// memory, a shared file filled by another connection, and leases of a process that is gone.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SyncEventStorage, InvalidOptionError, RingBufferStorage, SqliteStorage } from '../../lib/core';
import { createStorage, isEventStorage } from '../../lib/storage/create-storage';
import { billingEvent as billing, customEvent as custom, nextTick } from './support/events';
import { leaseOwner } from '../../lib/storage/lease-owner';

let dir: string;
let path: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'snowplow-edges-'));
  path = join(dir, 'outbox.db');
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('createStorage', () => {
  it('builds a ring buffer by default and for memory, with the emitter capacity unless the config has one', () => {
    const byDefault = createStorage(undefined, 7, 3);
    expect(byDefault).toBeInstanceOf(RingBufferStorage);
    expect([byDefault.capacity, byDefault.billingCapacity, byDefault.durable]).toEqual([7, 3, false]);
    const memory = createStorage({ type: 'memory' }, 7, 3);
    expect([memory.capacity, memory.billingCapacity]).toEqual([7, 3]);
    expect(createStorage({ type: 'memory', capacity: 5 }, 7, 3).capacity).toBe(5);
  });

  it('builds a SQLite outbox with the emitter capacity unless the config has one', () => {
    const sqlite = createStorage({ type: 'sqlite', path }, 7, 3) as SqliteStorage;
    expect(sqlite).toBeInstanceOf(SqliteStorage);
    expect([sqlite.capacity, sqlite.billingCapacity, sqlite.durable, sqlite.path]).toEqual([7, 3, true, path]);
    sqlite.close();
    const sized = createStorage({ type: 'sqlite', path, capacity: 5 }, 7, 3);
    expect(sized.capacity).toBe(5);
    (sized as SqliteStorage).close();
  });

  it.each([null, 'memory', 5])('refuses %p as a config, naming storage', (config) => {
    expect(() => createStorage(config as never, 7, 3)).toThrow(InvalidOptionError);
    expect(() => createStorage(config as never, 7, 3)).toThrow(
      `Invalid Snowplow option "storage": must be { type: 'memory' }, { type: 'sqlite', path }, { type: 'postgres', pool | connectionString }, or an EventStorage`,
    );
  });

  it('refuses an unknown type, naming storage.type and the type', () => {
    expect(() => createStorage({ type: 'redis' } as never, 7, 3)).toThrow('"storage.type"');
    expect(() => createStorage({ type: 'redis' } as never, 7, 3)).toThrow('redis');
  });

  it('isEventStorage needs every method of the contract', () => {
    expect(isEventStorage(new RingBufferStorage(1))).toBe(true);
    expect(isEventStorage(null)).toBe(false);
    expect(isEventStorage('storage')).toBe(false);
    const methods = ['add', 'addBatch', 'lease', 'ack', 'release', 'sizeOf'];
    // A function carrying every method is not a storage (createStorage refuses it as a config).
    const all = Object.fromEntries(methods.map((m) => [m, () => undefined]));
    expect(isEventStorage(Object.assign(() => undefined, all))).toBe(false);
    expect(isEventStorage(all)).toBe(true);
    for (const missing of methods) {
      const partial = Object.fromEntries(methods.filter((m) => m !== missing).map((m) => [m, () => undefined]));
      expect(isEventStorage(partial)).toBe(false);
      expect(isEventStorage({ ...partial, [missing]: 'not a function' })).toBe(false);
    }
  });
});

describe('the lanes keep FIFO order as they grow', () => {
  it.each<[string, () => SyncEventStorage]>([
    ['ring buffer', () => new RingBufferStorage(10, 1_000)],
    ['SQLite', () => new SqliteStorage({ path, capacity: 10, billingCapacity: 1_000 })],
  ])('%s: a billing lane taking and giving back hundreds of events stays oldest first', (_name, make) => {
    const storage = make();
    const out: string[] = [];
    let n = 0;
    // Interleave adds and leases so the queue wraps around while it grows.
    for (let round = 0; round < 40; round++) {
      for (let i = 0; i < 9; i++) storage.add(billing(n++));
      const taken = storage.lease(4);
      storage.ack(taken);
      out.push(...taken.map((e) => e.eid));
    }
    const rest = storage.lease(1_000);
    out.push(...rest.map((e) => e.eid));
    expect(out).toEqual(Array.from({ length: n }, (_, i) => `b${i}`));
    (storage as Partial<SqliteStorage>).close?.();
  });
});

describe('SqliteStorage sizes', () => {
  it('counts custom events waiting in memory and the ones they push out of the file, before and after the write', async () => {
    const storage = new SqliteStorage({ path, capacity: 5 });
    storage.addBatch([1, 2, 3, 4, 5].map(custom));
    expect([storage.size, storage.sizeOf('custom'), storage.sizeOf('billing')]).toEqual([5, 5, 0]);
    await nextTick(); // in the file
    expect(storage.add(custom(6))).toBe(1);
    expect(storage.add(custom(7))).toBe(1);
    storage.add(billing(1));
    expect([storage.size, storage.sizeOf('custom'), storage.sizeOf('billing')]).toEqual([6, 5, 1]);
    await nextTick();
    expect([storage.size, storage.sizeOf('custom'), storage.sizeOf('billing')]).toEqual([6, 5, 1]);
    expect(storage.lease(10).map((e) => e.eid)).toEqual(['b1', 'c3', 'c4', 'c5', 'c6', 'c7']);
    storage.close();
  });

  it('a release past capacity pushes out the oldest waiting events and reports them', async () => {
    const storage = new SqliteStorage({ path, capacity: 4 });
    storage.addBatch([1, 2, 3, 4].map(custom));
    const leased = storage.lease(2);
    storage.addBatch([5, 6].map(custom)); // 4 in the file incl. the 2 in flight: c3, c4 go
    await nextTick();
    expect(storage.release(leased)).toBe(0);
    expect(storage.lease(10).map((e) => e.eid)).toEqual(['c5', 'c6', 'c1', 'c2']);
    storage.close();
    const reopened = new SqliteStorage({ path, capacity: 4 });
    expect(reopened.size).toBe(4);
    reopened.close();
  });
});

describe('a shared SQLite file', () => {
  it('a write that finds the file over capacity because of another connection evicts the oldest and reports it once', async () => {
    const a = new SqliteStorage({ path, shared: true, capacity: 3 });
    const b = new SqliteStorage({ path, shared: true, capacity: 3 });
    // Both write in the same tick: neither sees the other's rows before its own write.
    expect(a.addBatch([1, 2, 3].map(custom))).toBe(0);
    expect(b.addBatch([4, 5].map(custom))).toBe(0);
    await nextTick();
    // b's write found 5 rows in a file of capacity 3: the 2 oldest went, reported by b once.
    expect([a.takeEvictions(), b.takeEvictions()]).toEqual([0, 2]);
    expect([a.takeEvictions(), b.takeEvictions()]).toEqual([0, 0]);
    expect(b.lease(10).map((e) => e.eid)).toEqual(['c3', 'c4', 'c5']);
    a.close();
    b.close();
  });

  it('rows leased by a process that no longer exists are back in the queue when the file is opened', () => {
    const first = new SqliteStorage({ path, shared: true });
    first.addBatch([1, 2, 3].map(custom));
    first.lease(0);
    first.close();
    const Driver = require('better-sqlite3') as typeof import('better-sqlite3');
    const raw = new Driver(path);
    // pid 2^22 + 1 is above Linux's pid_max: no process has it.
    // Leases of this PID namespace and boot, as a process of this container would take them.
    const { ns, boot } = leaseOwner();
    raw
      .prepare(
        'UPDATE snowplow_events SET leased_until = ?, leased_by = ?, leased_ns = ?, leased_boot = ? WHERE eid IN (?, ?)',
      )
      .run(Date.now() + 3_600_000, 4_194_305, ns, boot, 'c1', 'c2');
    raw
      .prepare(
        'UPDATE snowplow_events SET leased_until = ?, leased_by = ?, leased_ns = ?, leased_boot = ? WHERE eid = ?',
      )
      .run(Date.now() + 3_600_000, process.pid, ns, boot, 'c3');
    raw.close();
    const reopened = new SqliteStorage({ path, shared: true });
    // c1 and c2 come back; c3 is leased by this very process, which lives: it stays leased.
    expect(reopened.size).toBe(2);
    expect(reopened.lease(10).map((e) => e.eid)).toEqual(['c1', 'c2']);
    reopened.close();
  });
});

describe('SqliteStorage constructor input', () => {
  it.each<[string, unknown, string]>([
    ['no options', null, 'Invalid Snowplow option "storage": must be an object'],
    ['a string', 'outbox.db', 'Invalid Snowplow option "storage": must be an object'],
    ['no path', {}, 'Invalid Snowplow option "storage.path": must be a non-empty file path'],
    ['a numeric path', { path: 42 }, 'Invalid Snowplow option "storage.path": must be a non-empty file path'],
    ['an empty path', { path: '' }, 'Invalid Snowplow option "storage.path": must be a non-empty file path'],
  ])('refuses %s', (_case, options, message) => {
    expect(() => new SqliteStorage(options as never)).toThrow(message);
  });
});
