// Bounds of the storages, at the exact edge: a byte budget met exactly or stopped in the billing
// lane, events without a row id, what the SQLite outbox writes and when (read from its WAL), and
// the queue behind the ring buffer.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SyncEventStorage, QueuedEvent, RingBufferStorage, SqliteStorage } from '../../lib/core';
import { Fifo } from '../../lib/storage/fifo';
import { queued } from './support/events';
import { walFrames } from './support/wal';

const custom = (n: number, bytes = 2): QueuedEvent => queued('custom', n, { bytes });
const billing = (n: number, bytes = 2): QueuedEvent => queued('billing', n, { bytes });
const eids = (events: QueuedEvent[]) => events.map((e) => e.eid);
const nextTick = () => new Promise((resolve) => setImmediate(resolve));
type Driver = typeof import('better-sqlite3');

let dir: string;
let path: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'snowplow-bounds-'));
  path = join(dir, 'outbox.db');
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const implementations: Array<[string, () => SyncEventStorage]> = [
  ['ring buffer', () => new RingBufferStorage(10, 10)],
  ['SQLite', () => new SqliteStorage({ path, capacity: 10, billingCapacity: 10 })],
];

describe.each(implementations)('%s: the byte budget of a lease', (_name, make) => {
  let storage: SyncEventStorage;
  beforeEach(() => (storage = make()));
  afterEach(() => storage.close?.());

  it('takes events whose sizes add up to exactly the budget', async () => {
    storage.addBatch([custom(1, 50), custom(2, 50), custom(3, 50)]);
    await nextTick();
    expect(eids(storage.lease(10, 100))).toEqual(['c1', 'c2']);
    expect(eids(storage.lease(10, 99))).toEqual(['c3']);
  });

  it('a billing event over the budget ends the lease: no smaller custom event jumps the queue', async () => {
    storage.addBatch([billing(1, 60), billing(2, 60), custom(1, 30)]);
    await nextTick();
    expect(eids(storage.lease(10, 100))).toEqual(['b1']);
    expect(eids(storage.lease(10, 100))).toEqual(['b2', 'c1']);
  });
});

describe('the FIFO behind the ring buffer', () => {
  it('starts with at least one slot, grows, and shifting an empty queue changes nothing', () => {
    const fifo = new Fifo<number>(0);
    expect([fifo.shift(), fifo.peek(), fifo.size]).toEqual([undefined, undefined, 0]);
    for (let i = 0; i < 5; i++) fifo.push(i);
    expect([fifo.size, fifo.peek()]).toEqual([5, 0]);
    expect([fifo.shift(), fifo.shift()]).toEqual([0, 1]);
    fifo.push(5);
    expect(Array.from({ length: 4 }, () => fifo.shift())).toEqual([2, 3, 4, 5]);
    expect([fifo.shift(), fifo.size]).toEqual([undefined, 0]);
    fifo.push(6);
    expect([fifo.size, fifo.shift()]).toEqual([1, 6]);
  });
});

describe('SqliteStorage with events that carry no row id (never leased from this file)', () => {
  it('ack of such an event forgets nothing, and the leased events still count against the capacity', async () => {
    const storage = new SqliteStorage({ path, capacity: 3 });
    storage.addBatch([1, 2, 3].map((n) => custom(n)));
    await nextTick();
    const leased = storage.lease(2);
    storage.ack([custom(9)]);
    expect(storage.size).toBe(1);
    // c1, c2 in flight and c3 waiting fill the capacity: c4 pushes c3 out.
    expect(storage.add(custom(4))).toBe(1);
    storage.ack(leased);
    expect(eids(storage.lease(10))).toEqual(['c4']);
    storage.close();
  });

  it('release of such an event adds it, and the in-flight ones still count against the capacity', async () => {
    const storage = new SqliteStorage({ path, capacity: 3 });
    storage.addBatch([1, 2, 3].map((n) => custom(n)));
    await nextTick();
    const leased = storage.lease(2);
    expect(storage.release([custom(8)])).toBe(1); // c3 goes
    expect(storage.sizeOf('custom')).toBe(1);
    storage.ack(leased);
    expect(eids(storage.lease(10))).toEqual(['c8']);
    storage.close();
  });
});

describe('SqliteStorage release', () => {
  it('moves each released row to the end of the queue: the file holds every event once', async () => {
    const storage = new SqliteStorage({ path });
    storage.addBatch([1, 2, 3].map((n) => custom(n)));
    await nextTick();
    expect(storage.release(storage.lease(2))).toBe(0);
    storage.close();
    const reopened = new SqliteStorage({ path });
    expect(reopened.size).toBe(3);
    expect(eids(reopened.lease(10))).toEqual(['c3', 'c1', 'c2']);
    reopened.close();
  });
});

describe('when the SQLite outbox writes (read from its WAL)', () => {
  const commits = () => walFrames(`${path}-wal`).commits;

  it('each tick that adds custom events writes them in one transaction after it, tick after tick', async () => {
    const storage = new SqliteStorage({ path });
    const before = commits();
    for (let tick = 1; tick <= 3; tick++) {
      storage.add(custom(tick));
      expect(commits()).toBe(before + tick - 1);
      await nextTick();
      expect(commits()).toBe(before + tick);
    }
    storage.close();
  });

  it('release of nothing writes nothing: what waits in memory still goes at the end of the tick', async () => {
    const storage = new SqliteStorage({ path });
    storage.add(custom(1));
    const before = commits();
    expect(storage.release([])).toBe(0);
    storage.ack([]);
    expect(commits()).toBe(before);
    await nextTick();
    expect(commits()).toBe(before + 1);
    storage.close();
  });

  it('the overwrites of a release are written at the end of the tick, as an add would', async () => {
    const storage = new SqliteStorage({ path, capacity: 2 });
    storage.addBatch([custom(1), custom(2)]);
    await nextTick();
    const before = commits();
    expect(storage.release([custom(8)])).toBe(1);
    const afterRelease = commits();
    expect(afterRelease).toBe(before + 1);
    await nextTick();
    expect(commits()).toBe(afterRelease + 1);
    storage.close();
    const Driver = require('better-sqlite3') as Driver;
    const raw = new Driver(path, { readonly: true });
    expect(raw.prepare('SELECT eid FROM snowplow_events ORDER BY seq').pluck().all()).toEqual(['c2', 'c8']);
    raw.close();
  });

  it('a burst far past the capacity writes only the newest events: the overwritten ones never reach the file', async () => {
    const storage = new SqliteStorage({ path, capacity: 10 });
    const pad = 'x'.repeat(200);
    const before = walFrames(`${path}-wal`).frames;
    for (let i = 0; i < 5_000; i++) storage.add({ ...custom(i, 210), json: `{"p":"${pad}"}` });
    await nextTick();
    // 10 rows of ~210 bytes fit in a page or two; 5,000 would take ~300 pages.
    expect(walFrames(`${path}-wal`).frames - before).toBeLessThan(10);
    expect(eids(storage.lease(100))).toEqual(Array.from({ length: 10 }, (_, i) => `c${4_990 + i}`));
    storage.close();
  });
});
