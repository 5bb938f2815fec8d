import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  MissingDependencyError,
  QueuedEvent,
  SqliteStorage,
  StorageCorruptError,
  StorageLockedError,
} from '../../lib/core';
import { take } from './support/take';
import { walFrames } from './support/wal';

const event = (n: number): QueuedEvent => ({
  kind: 'custom',
  eid: `e${n}`,
  dtm: 1_700_000_000_000 + n,
  json: `{"n":"${n}"}`,
  bytes: 12,
  attempts: 0,
});
const nextTick = () => new Promise((resolve) => setImmediate(resolve));

let dir: string;
let path: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'snowplow-sqlite-'));
  path = join(dir, 'outbox.db');
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('SqliteStorage', () => {
  it('keeps waiting and leased-but-unacked events across a restart, oldest first, unchanged', async () => {
    const first = new SqliteStorage({ path });
    first.addBatch([1, 2, 3, 4].map(event));
    const leased = first.lease(2);
    expect(leased.map((e) => e.eid)).toEqual(['e1', 'e2']);
    first.close();
    const second = new SqliteStorage({ path });
    expect(second.size).toBe(4);
    const back = take(second, 10);
    expect(back.map(({ id: _id, ...e }) => e)).toEqual([1, 2, 3, 4].map(event));
    second.close();
  });

  it('writes the events of one tick in one transaction, after the tick', async () => {
    const storage = new SqliteStorage({ path });
    const commits = () => walFrames(`${path}-wal`).commits;
    const before = commits();
    for (let i = 0; i < 1_000; i++) storage.add(event(i));
    expect(commits()).toBe(before);
    await nextTick();
    expect(commits()).toBe(before + 1);
    storage.close();
    const reopened = new SqliteStorage({ path });
    expect(reopened.size).toBe(1_000);
    reopened.close();
  });

  it('opens a file written by the previous version (one lane): a structured event with a billable_usage entity becomes billing, any other (a plain one included) custom', () => {
    const Driver = require('better-sqlite3') as typeof import('better-sqlite3');
    const v1 = new Driver(path);
    const cx = (schema: string) =>
      Buffer.from(
        JSON.stringify({
          schema: 'iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-1',
          data: [{ schema, data: {} }],
        }),
      ).toString('base64url');
    v1.exec(`
      CREATE TABLE snowplow_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
      CREATE TABLE snowplow_events (seq INTEGER PRIMARY KEY AUTOINCREMENT, eid TEXT NOT NULL, dtm INTEGER NOT NULL,
        json TEXT NOT NULL, bytes INTEGER NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, leased_until INTEGER NOT NULL DEFAULT 0);
      INSERT INTO snowplow_meta VALUES ('schema_version', '1');
      INSERT INTO snowplow_events (eid, dtm, json, bytes) VALUES ('c1', 1, '{"e":"ue","eid":"c1"}', 30);
    `);
    const insert = v1.prepare('INSERT INTO snowplow_events (eid, dtm, json, bytes, attempts) VALUES (?, ?, ?, 30, ?)');
    const row = (eid: string, fields: Record<string, string>) => JSON.stringify({ e: 'se', eid, ...fields });
    insert.run('b1', 2, row('b1', { cx: cx('iglu:com.gitlab/billable_usage/jsonschema/1-0-2') }), 2);
    insert.run('s1', 3, row('s1', { se_ca: 'shop', se_ac: 'buy' }), 0);
    insert.run('s2', 4, row('s2', { cx: cx('iglu:com.acme/cart/jsonschema/1-0-0') }), 0);
    insert.run('s3', 5, row('s3', { cx: 'not base64 json' }), 0);
    v1.close();
    const storage = new SqliteStorage({ path });
    expect([storage.sizeOf('billing'), storage.sizeOf('custom')]).toEqual([1, 4]);
    expect(storage.lease(10).map(({ eid, kind, attempts }) => ({ eid, kind, attempts }))).toEqual([
      { eid: 'b1', kind: 'billing', attempts: 2 },
      { eid: 'c1', kind: 'custom', attempts: 0 },
      { eid: 's1', kind: 'custom', attempts: 0 },
      { eid: 's2', kind: 'custom', attempts: 0 },
      { eid: 's3', kind: 'custom', attempts: 0 },
    ]);
    storage.close();
  });

  it('capacity bounds the rows in the file, in flight included: a restart never evicts what was in flight', () => {
    const first = new SqliteStorage({ path, capacity: 10 });
    first.addBatch(Array.from({ length: 10 }, (_, i) => event(i)));
    const inFlight = first.lease(4);
    // Four more arrive while four are in flight: the four oldest waiting ones make room.
    expect(first.addBatch([10, 11, 12, 13].map(event))).toBe(4);
    first.close(); // as if killed: the leases stay in the file
    const second = new SqliteStorage({ path, capacity: 10 });
    // What was in flight is back in the queue, oldest first, and nothing had to make room for it.
    expect(second.size).toBe(10);
    const all = second.lease(100).map((e) => e.eid);
    expect(all).toEqual([...inFlight.map((e) => e.eid), 'e8', 'e9', 'e10', 'e11', 'e12', 'e13']);
    second.close();
  });

  it('a second opener gets StorageLockedError unless both opt into sharing', () => {
    const owner = new SqliteStorage({ path });
    expect(() => new SqliteStorage({ path })).toThrow(StorageLockedError);
    expect(() => new SqliteStorage({ path })).toThrow(/in use by another process.*storage\.shared/);
    owner.close();
    const a = new SqliteStorage({ path: join(dir, 'shared.db'), shared: true });
    const b = new SqliteStorage({ path: join(dir, 'shared.db'), shared: true });
    a.add(event(1));
    b.add(event(2));
    expect([...take(a, 5), ...take(b, 5)].map((e) => e.eid).sort()).toEqual(['e1', 'e2']);
    a.close();
    b.close();
  });

  it('reports a corrupt file with StorageCorruptError and never deletes or changes it', () => {
    const garbage = Buffer.from('this is not a sqlite database, just some bytes '.repeat(200));
    writeFileSync(path, garbage);
    expect(() => new SqliteStorage({ path })).toThrow(StorageCorruptError);
    expect(() => new SqliteStorage({ path })).toThrow(/not a readable SQLite database.*left untouched/);
    expect(readFileSync(path).equals(garbage)).toBe(true);
  });

  it('tells the user to install better-sqlite3 when it is missing', () => {
    jest.isolateModules(() => {
      jest.doMock('better-sqlite3', () => {
        const error = new Error("Cannot find module 'better-sqlite3'") as NodeJS.ErrnoException;
        error.code = 'MODULE_NOT_FOUND';
        throw error;
      });

      const isolated = require('../../lib') as typeof import('../../lib');
      expect(() => new isolated.SqliteStorage({ path })).toThrow(isolated.MissingDependencyError);
      expect(() => new isolated.SqliteStorage({ path })).toThrow(
        'The durable SQLite event store needs the package "better-sqlite3", which is not installed: run `npm install better-sqlite3@12`',
      );
    });
    jest.dontMock('better-sqlite3');
    // Outside the isolated registry the real driver is still there.
    expect(() => new SqliteStorage({ path }).close()).not.toThrow(MissingDependencyError);
  });
});
