// What the storages throw, checked word for word: the class, the option or file it names, and what
// failed. SQLite failures are real ones: a trigger in the file makes SQLite refuse a write, as a
// full disk would.
import { mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  InvalidOptionError,
  RingBufferStorage,
  SqliteStorage,
  StorageBusyError,
  StorageCorruptError,
  StorageError,
  StorageFullError,
  StorageIoError,
  StorageLockedError,
} from '../../lib/core';
import { translateSqliteError } from '../../lib/storage/sqlite-file';
import { billingEvent as billing, customEvent as custom } from './support/events';
import { waitFor } from '../support/wait-for';

type Driver = typeof import('better-sqlite3');

/** The error `fn` throws (the test fails when it throws nothing). */
function errorOf(fn: () => unknown): Error {
  try {
    fn();
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a throw');
}

let dir: string;
let path: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'snowplow-errors-'));
  path = join(dir, 'outbox.db');
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('RingBufferStorage names the argument at fault', () => {
  it.each<[string, () => unknown, string, string]>([
    ['a capacity of 0', () => new RingBufferStorage(0), 'capacity', 'must be a positive integer'],
    ['a billing capacity of 0', () => new RingBufferStorage(5, 0), 'billing.capacity', 'must be a positive integer'],
    ['a negative lease count', () => new RingBufferStorage(5).lease(-1), 'maxCount', 'must be a non-negative integer'],
    [
      'a negative byte budget',
      () => new RingBufferStorage(5).lease(1, -1),
      'maxBytes',
      'must be a non-negative integer',
    ],
    [
      'a fractional byte budget',
      () => new RingBufferStorage(5).lease(1, 1.5),
      'maxBytes',
      'must be a non-negative integer',
    ],
    [
      'a batch that is not an array',
      () => new RingBufferStorage(5).addBatch('e1' as never),
      'events',
      'must be an array',
    ],
  ])('refuses %s', (_case, call, option, reason) => {
    const err = errorOf(call);
    expect(err).toBeInstanceOf(InvalidOptionError);
    expect((err as InvalidOptionError).option).toBe(option);
    expect(err.message).toBe(`Invalid Snowplow option "${option}": ${reason}`);
  });

  it('takes a capacity of 1 and a byte budget of 0 (which still returns one event)', () => {
    const storage = new RingBufferStorage(1, 1);
    storage.add(custom(1));
    expect(storage.lease(5, 0).map((e) => e.eid)).toEqual(['c1']);
  });
});

describe('SqliteStorage opening a file', () => {
  it('creates the file readable by its owner only', () => {
    new SqliteStorage({ path }).close();
    expect(statSync(path).mode & 0o777).toBe(0o600);
  });

  it('a file it cannot create: StorageError naming the path and the system error', () => {
    const missing = join(dir, 'no-such-dir', 'outbox.db');
    const err = errorOf(() => new SqliteStorage({ path: missing }));
    expect(err.constructor).toBe(StorageError);
    expect((err as StorageError).path).toBe(missing);
    expect(err.message).toBe(
      `Snowplow event store ${missing}: cannot open the file (ENOENT: no such file or directory, open '${missing}')`,
    );
  });

  it('a database whose events table is not ours: StorageError saying it cannot open the event store, with SQLite’s reason', () => {
    const Driver = require('better-sqlite3') as Driver;
    const other = new Driver(path);
    other.exec('CREATE TABLE snowplow_events (x TEXT)');
    other.close();
    const err = errorOf(() => new SqliteStorage({ path }));
    expect(err.constructor).toBe(StorageError);
    expect((err as StorageError).code).toBe('STORAGE_FAILED');
    expect(err.message).toBe(`Snowplow event store ${path}: cannot open the event store: no such column: seq`);
  });

  it('a file of an unknown later version: the StorageError of the check itself, not wrapped again', () => {
    const Driver = require('better-sqlite3') as Driver;
    const future = new Driver(path);
    future.exec(`CREATE TABLE snowplow_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
      INSERT INTO snowplow_meta VALUES ('schema_version', '9');`);
    future.close();
    expect(errorOf(() => new SqliteStorage({ path })).message).toBe(
      `Snowplow event store ${path}: was written by an unknown version of nestjs-snowplow (schema 9)`,
    );
  });

  it('a directory where the file should be: StorageError naming the path', () => {
    mkdirSync(path);
    const err = errorOf(() => new SqliteStorage({ path }));
    expect(err).toBeInstanceOf(StorageError);
    expect(err.message).toMatch(new RegExp(`^Snowplow event store ${path}: cannot open the `));
  });
});

describe("what SQLite's error codes mean", () => {
  const sqliteError = (code: string, message: string) => Object.assign(new Error(message), { code });
  const exclusive = { path: '/var/outbox.db', shared: false, lockTimeoutMs: 50 };
  const shared = { path: '/var/outbox.db', shared: true, lockTimeoutMs: 50 };

  it.each(['SQLITE_BUSY', 'SQLITE_BUSY_SNAPSHOT', 'SQLITE_LOCKED', 'SQLITE_LOCKED_SHAREDCACHE'])(
    '%s: the file is in use (StorageLockedError), with advice for an unshared file',
    (code) => {
      const err = translateSqliteError(sqliteError(code, 'database is locked'), exclusive, 'cannot lease events');
      expect(err).toBeInstanceOf(StorageLockedError);
      expect(err.message).toBe(
        'Snowplow event store /var/outbox.db: is in use by another process (database is locked): ' +
          'give each process its own file, or set storage.shared: true to share it on purpose',
      );
    },
  );

  it.each(['SQLITE_BUSY', 'SQLITE_BUSY_SNAPSHOT', 'SQLITE_LOCKED'])(
    '%s in a shared file: StorageBusyError (code STORAGE_BUSY), another process held the lock past lockTimeoutMs',
    (code) => {
      const err = translateSqliteError(sqliteError(code, 'database is locked'), shared, 'cannot lease events');
      expect(err).toBeInstanceOf(StorageBusyError);
      expect(err).toBeInstanceOf(StorageLockedError);
      expect((err as StorageBusyError).code).toBe('STORAGE_BUSY');
      expect(err.message).toBe(
        "Snowplow event store /var/outbox.db: cannot lease events: another process held the file's lock longer than " +
          '50 ms (storage.lockTimeoutMs) (database is locked)',
      );
    },
  );

  it.each(['SQLITE_FULL'])('%s: StorageFullError (code STORAGE_FULL), the disk is full', (code) => {
    const err = translateSqliteError(sqliteError(code, 'database or disk is full'), exclusive, 'cannot write events');
    expect(err).toBeInstanceOf(StorageFullError);
    expect((err as StorageFullError).code).toBe('STORAGE_FULL');
    expect(err.message).toBe(
      'Snowplow event store /var/outbox.db: cannot write events: the disk is full (database or disk is full)',
    );
  });

  it.each(['SQLITE_IOERR', 'SQLITE_IOERR_WRITE', 'SQLITE_IOERR_FSYNC'])(
    '%s: StorageIoError (code STORAGE_IO) naming the SQLite code',
    (code) => {
      const err = translateSqliteError(sqliteError(code, 'disk I/O error'), shared, 'cannot write events');
      expect(err).toBeInstanceOf(StorageIoError);
      expect((err as StorageIoError).code).toBe('STORAGE_IO');
      expect(err.message).toBe(
        `Snowplow event store /var/outbox.db: cannot write events: an I/O error (${code}: disk I/O error)`,
      );
    },
  );

  it.each(['SQLITE_NOTADB', 'SQLITE_CORRUPT', 'SQLITE_CORRUPT_INDEX'])(
    '%s: the file is not readable (StorageCorruptError) and left alone',
    (code) => {
      const err = translateSqliteError(sqliteError(code, 'database disk image is malformed'), exclusive, 'cannot x');
      expect(err).toBeInstanceOf(StorageCorruptError);
      expect(err.message).toBe(
        'Snowplow event store /var/outbox.db: is not a readable SQLite database (database disk image is malformed); ' +
          'it was left untouched — move it aside to start a new one',
      );
    },
  );

  it.each(['SQLITE_CONSTRAINT', 'SQLITE_ERROR', undefined])('%s: a plain StorageError saying what failed', (code) => {
    const err = translateSqliteError(sqliteError(code as string, 'disk I/O error'), exclusive, 'cannot write events');
    expect(err.constructor).toBe(StorageError);
    expect(err.message).toBe('Snowplow event store /var/outbox.db: cannot write events: disk I/O error');
  });

  it('a StorageError is passed on as it is', () => {
    const original = new StorageError('/var/outbox.db', 'is closed');
    expect(translateSqliteError(original, exclusive, 'cannot write events')).toBe(original);
  });
});

describe('SqliteStorage when SQLite refuses a statement', () => {
  /** Opens the outbox on a file whose `event` statements on the events table fail as a full disk would. */
  function failing(event: 'INSERT' | 'UPDATE' | 'DELETE', before: (s: SqliteStorage) => void = () => {}) {
    const setup = new SqliteStorage({ path });
    before(setup);
    setup.close();
    const Driver = require('better-sqlite3') as Driver;
    const raw = new Driver(path);
    raw.exec(
      `CREATE TRIGGER refuse BEFORE ${event} ON snowplow_events BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END`,
    );
    raw.close();
    return new SqliteStorage({ path });
  }

  function expectFailure(call: () => unknown, what: string) {
    const err = errorOf(call);
    expect(err.constructor).toBe(StorageError);
    expect((err as StorageError).path).toBe(path);
    expect(err.message).toBe(`Snowplow event store ${path}: cannot ${what}: database or disk is full`);
  }

  it('writes: the billing event that was not written is not counted', () => {
    const storage = failing('INSERT', (s) => s.add(billing(0)));
    expectFailure(() => storage.add(billing(1)), 'write a billing event');
    expectFailure(() => storage.addBatch([billing(2), custom(1)]), 'write billing events');
    expect(storage.sizeOf('billing')).toBe(1);
    storage.add(custom(2));
    // The refused write of the pending event is left to the background retry: the lease goes on
    // with the rows already in the file, and writeError tells the store refuses writes.
    expect(storage.lease(10).map((e) => e.eid)).toEqual(['b0']);
    expect(storage.writeError?.message).toBe(
      `Snowplow event store ${path}: cannot write events: database or disk is full`,
    );
    expect(storage.sizeOf('custom')).toBe(1);
    // close() reports the write it could not make, and closes the file all the same.
    expectFailure(() => storage.close(), 'write events');
    expect(errorOf(() => storage.lease(1)).message).toBe(`Snowplow event store ${path}: is closed`);
  });

  it('leases', () => {
    const storage = failing('UPDATE', (s) => s.addBatch([custom(1), custom(2)]));
    expect(storage.size).toBe(2);
    expectFailure(() => storage.lease(10), 'lease events');
    storage.close();
  });

  it('acks and releases', () => {
    const storage = failing('DELETE', (s) => s.addBatch([custom(1), custom(2)]));
    const leased = storage.lease(2);
    expect(leased.map((e) => e.eid)).toEqual(['c1', 'c2']);
    expectFailure(() => storage.ack(leased), 'delete delivered events');
    expectFailure(() => storage.release(leased), 'requeue failed events');
    storage.close();
  });
});

describe('SqliteStorage when SQLite refuses the writes it does on its own', () => {
  it('tells the handler of each failed end-of-tick write, retries with a doubling delay, and hands what is left over at close', async () => {
    const setup = new SqliteStorage({ path });
    setup.close();
    const Driver = require('better-sqlite3') as Driver;
    const raw = new Driver(path);
    raw.exec(
      `CREATE TRIGGER refuse BEFORE INSERT ON snowplow_events BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END`,
    );
    raw.close();
    const storage = new SqliteStorage({ path });
    const failures: { op: string; message: string; at: number }[] = [];
    const unwritten: { eids: string[]; message: string }[] = [];
    storage.onFailure({
      failed: (op, err) => failures.push({ op, message: err.message, at: Date.now() }),
      unwritten: (events, err) => unwritten.push({ eids: events.map((e) => e.eid), message: err.message }),
    });
    storage.add(custom(1));
    await waitFor(() => failures.length >= 3, { what: 'three failed writes' });
    const message = `Snowplow event store ${path}: cannot write events: database or disk is full`;
    expect(failures.slice(0, 3).map(({ op, message: m }) => [op, m])).toEqual([
      ['flush', message],
      ['flush', message],
      ['flush', message],
    ]);
    expect(failures[1].at - failures[0].at).toBeGreaterThanOrEqual(90);
    expect(failures[2].at - failures[1].at).toBeGreaterThanOrEqual(190);
    // The handler keeps a record of what could not be written: close() does not throw.
    storage.close();
    expect(unwritten).toEqual([{ eids: ['c1'], message }]);
  });
});
