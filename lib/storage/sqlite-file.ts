import { closeSync, openSync } from 'node:fs';
import type BetterSqlite3 from 'better-sqlite3';
import {
  StorageBusyError,
  StorageCorruptError,
  StorageError,
  StorageFullError,
  StorageIoError,
  StorageLockedError,
} from '../errors';
import { legacyLaneOfJson } from '../tracker/lane';
import type { EventKind } from '../tracker/payload';
import { loadOptional } from '../utils/optional-dependency';
import { leaseOwner, releaseLeasesOfDeadProcesses } from './lease-owner';
import { QueuedEvent } from './queued-event';

/**
 * The outbox file itself: opening it (mode 0600, WAL, the schema and its migrations), its
 * statements, reclaiming space, and what SQLite's errors mean. `SqliteStorage` keeps the queue.
 */

export type Database = BetterSqlite3.Database;
type Statement = BetterSqlite3.Statement;

const SCHEMA_VERSION = '3';
/** How long opening a shared file waits for another process's write (startup, not a track call). */
const OPEN_LOCK_TIMEOUT_MS = 5_000;
const FREE_PAGES_BEFORE_VACUUM = 256;

/** The file's prepared statements, by what they do. */
export type OutboxStatements = Record<
  'insert' | 'evict' | 'leaseBilling' | 'leaseCustom' | 'markLeased' | 'delete' | 'count',
  Statement
>;

/** Which file, and whether other processes may use it too. */
export interface OutboxFile {
  path: string;
  shared: boolean;
  /** Shared mode: the longest a statement waits for another process's lock, ms. */
  lockTimeoutMs: number;
}

function loadDriver(): typeof BetterSqlite3 {
  return loadOptional<typeof BetterSqlite3>({
    name: 'better-sqlite3',
    feature: 'The durable SQLite event store',
    install: 'npm install better-sqlite3@12',
  });
}

/** Creates a missing file readable by its owner only; SQLite gives its -wal and -shm the same mode. */
function createPrivateFile(path: string): void {
  try {
    closeSync(openSync(path, 'wx', 0o600));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
}

/**
 * Opens (creating when missing) the outbox file, set up for the queue: WAL with
 * `synchronous=NORMAL`, incremental vacuum, a bounded WAL, the current schema (migrating older
 * ones), and the exclusive lock unless shared. Once open, a statement waits at most
 * `lockTimeoutMs` for another process's lock (a wait blocks the event loop). Throws typed storage
 * errors.
 */
export function openOutbox(file: OutboxFile): Database {
  const Driver = loadDriver();
  let db: Database;
  const openTimeoutMs = file.shared ? Math.max(OPEN_LOCK_TIMEOUT_MS, file.lockTimeoutMs) : 0;
  try {
    createPrivateFile(file.path);
    db = new Driver(file.path, { timeout: openTimeoutMs });
  } catch (err) {
    throw new StorageError(file.path, `cannot open the file (${(err as Error).message})`);
  }
  try {
    prepareSchema(db, file);
    if (file.shared) db.pragma(`busy_timeout = ${file.lockTimeoutMs}`);
    return db;
  } catch (err) {
    db.close();
    throw translateSqliteError(
      err,
      { ...file, lockTimeoutMs: openTimeoutMs },
      'cannot open the event store',
      'the wait at open',
    );
  }
}

function prepareSchema(db: Database, file: OutboxFile): void {
  // A quick read tells a non-database or corrupt file before anything writes to it.
  db.pragma('schema_version');
  if (!file.shared) db.pragma('locking_mode = EXCLUSIVE');
  if (db.pragma('auto_vacuum', { simple: true }) !== 2) {
    const tables = db.prepare("SELECT count(*) FROM sqlite_master WHERE type = 'table'").pluck().get() as number;
    if (tables === 0) db.pragma('auto_vacuum = INCREMENTAL');
  }
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('journal_size_limit = 4194304');
  db.transaction(() => {
    db.exec(`
      CREATE TABLE IF NOT EXISTS snowplow_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS snowplow_events (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        eid TEXT NOT NULL,
        dtm INTEGER NOT NULL,
        json TEXT NOT NULL,
        bytes INTEGER NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        leased_until INTEGER NOT NULL DEFAULT 0,
        kind TEXT NOT NULL DEFAULT 'custom',
        leased_by INTEGER NOT NULL DEFAULT 0,
        leased_ns TEXT NOT NULL DEFAULT '',
        leased_boot TEXT NOT NULL DEFAULT ''
      );
    `);
    const version = db.prepare("SELECT value FROM snowplow_meta WHERE key = 'schema_version'").pluck().get() as
      string | undefined;
    if (version === '1') migrateFromVersion1(db);
    if (version === '1' || version === '2') migrateFromVersion2(db);
    else if (version !== undefined && version !== SCHEMA_VERSION) {
      throw new StorageError(file.path, `was written by an unknown version of nestjs-snowplow (schema ${version})`);
    }
    // Billing rows are found through a partial index, which custom inserts (the many) never
    // touch; custom rows are read in rowid order, skipping the few billing rows among them.
    db.exec(
      'DROP INDEX IF EXISTS snowplow_events_lane; ' +
        "CREATE INDEX IF NOT EXISTS snowplow_billing ON snowplow_events (seq) WHERE kind = 'billing'",
    );
    db.prepare("INSERT OR REPLACE INTO snowplow_meta (key, value) VALUES ('schema_version', ?)").run(SCHEMA_VERSION);
  }).immediate();
  // This process owns the file: leases of a process that died go back to the queue. In a shared
  // file, only the leases of processes that are gone (see releaseLeasesOfDeadProcesses).
  if (!file.shared) {
    db.prepare('UPDATE snowplow_events SET leased_until = 0, leased_by = 0 WHERE leased_until > 0').run();
  } else {
    releaseLeasesOfDeadProcesses(db);
  }
}

/**
 * Version 1 had one lane and stored none. Its billing events are told by what they carry, not by
 * their type (`legacyLane`): a structured event with a billable_usage entity. Any other row,
 * a plain structured event included, is `custom`.
 */
function migrateFromVersion1(db: Database): void {
  db.exec(`
    ALTER TABLE snowplow_events ADD COLUMN kind TEXT NOT NULL DEFAULT 'custom';
    ALTER TABLE snowplow_events ADD COLUMN leased_by INTEGER NOT NULL DEFAULT 0;
  `);
  db.function('snowplow_legacy_lane', { deterministic: true }, (json: unknown) =>
    typeof json === 'string' ? legacyLaneOfJson(json) : 'custom',
  );
  db.exec(`UPDATE snowplow_events SET kind = snowplow_legacy_lane(json) WHERE json LIKE '{"e":"se"%'`);
}

/**
 * Version 2 knew a lease's owner by pid alone. Its leases get an empty namespace and boot id,
 * which match no process: they count as alive until their deadline.
 */
function migrateFromVersion2(db: Database): void {
  db.exec(`
    ALTER TABLE snowplow_events ADD COLUMN leased_ns TEXT NOT NULL DEFAULT '';
    ALTER TABLE snowplow_events ADD COLUMN leased_boot TEXT NOT NULL DEFAULT '';
  `);
}

/** The lanes, in the order they are leased. */
export const KINDS: readonly EventKind[] = ['billing', 'custom'];

interface Row {
  seq: number;
  kind: EventKind;
  eid: string;
  dtm: number;
  json: string;
  bytes: number;
  attempts: number;
}

/**
 * Marks up to `maxCount` waiting rows leased until `until` (billing rows first, oldest first) and
 * returns them as events carrying their row id. Run it inside an immediate transaction.
 */
export function leaseRows(
  statements: OutboxStatements,
  bounds: { now: number; until: number; maxCount: number; maxBytes?: number },
): QueuedEvent[] {
  const { now, until, maxCount, maxBytes } = bounds;
  const taken: QueuedEvent[] = [];
  let bytes = 0;
  lanes: for (const kind of KINDS) {
    if (taken.length >= maxCount) break;
    const statement = kind === 'billing' ? statements.leaseBilling : statements.leaseCustom;
    for (const row of statement.all(now, maxCount - taken.length) as Row[]) {
      if (maxBytes !== undefined && taken.length > 0 && bytes + row.bytes > maxBytes) break lanes;
      bytes += row.bytes;
      const { seq, ...event } = row;
      taken.push({ id: seq, ...event });
    }
  }
  const owner = leaseOwner();
  for (const event of taken) statements.markLeased.run(until, owner.pid, owner.ns, owner.boot, event.id);
  return taken;
}

const SELECT_LANE = 'SELECT seq, kind, eid, dtm, json, bytes, attempts FROM snowplow_events';

/** The statements the queue runs, prepared once. */
export function prepareStatements(db: Database): OutboxStatements {
  return {
    insert: db.prepare('INSERT INTO snowplow_events (kind, eid, dtm, json, bytes, attempts) VALUES (?, ?, ?, ?, ?, ?)'),
    evict: db.prepare(
      'DELETE FROM snowplow_events WHERE seq IN ' +
        "(SELECT seq FROM snowplow_events WHERE kind = 'custom' AND leased_until <= ? ORDER BY seq LIMIT ?)",
    ),
    leaseBilling: db.prepare(`${SELECT_LANE} WHERE kind = 'billing' AND leased_until <= ? ORDER BY seq LIMIT ?`),
    leaseCustom: db.prepare(`${SELECT_LANE} WHERE kind = 'custom' AND leased_until <= ? ORDER BY seq LIMIT ?`),
    markLeased: db.prepare(
      'UPDATE snowplow_events SET leased_until = ?, leased_by = ?, leased_ns = ?, leased_boot = ? WHERE seq = ?',
    ),
    delete: db.prepare('DELETE FROM snowplow_events WHERE seq = ?'),
    count: db.prepare(
      'SELECT kind, leased_until <= ? AS waiting, count(*) AS n FROM snowplow_events GROUP BY kind, leased_until <= ?',
    ),
  };
}

/**
 * Returns freed pages to the file system and keeps the WAL small, after delivered events were
 * deleted. Returns the error when SQLite refuses (a full disk, a shared file's lock): the deletes
 * have committed, so it fails no ack; the next reclaim tries again.
 */
export function reclaimSpace(db: Database, file: OutboxFile): Error | undefined {
  try {
    const free = db.pragma('freelist_count', { simple: true }) as number;
    if (free >= FREE_PAGES_BEFORE_VACUUM) db.pragma('incremental_vacuum');
    db.pragma('wal_checkpoint(PASSIVE)');
    return undefined;
  } catch (err) {
    const what = 'cannot reclaim the space of delivered events (they were deleted; tried again later)';
    return translateSqliteError(err, file, what);
  }
}

/**
 * Before a refused write is tried again: checkpoints the WAL and, in a file of this process alone,
 * truncates it. In exclusive mode nothing else checkpoints before the WAL reaches 1,000 pages
 * (4 MB), and each transaction (a lease, a delete) adds pages to it: on a small disk, the WAL left
 * by a full disk's failures takes the room freed meanwhile, and then even a lease fails, for good.
 * Only the pages in use move to the database file, which is far less. A shared file's is only
 * checkpointed (never waiting for another process), so that its next writes reuse it. A refusal
 * (the disk still full, another process reading) changes nothing: the retry's own failure says so.
 */
export function shrinkWal(db: Database, file: OutboxFile): void {
  try {
    db.pragma(file.shared ? 'wal_checkpoint(PASSIVE)' : 'wal_checkpoint(TRUNCATE)');
  } catch {
    // See above: the write that follows reports the problem.
  }
}

/**
 * What an error of SQLite means for the user: locked (busy past `lockTimeoutMs` in a shared file),
 * a full disk, an I/O error, corrupt, or failed at `what`.
 */
export function translateSqliteError(
  err: unknown,
  file: OutboxFile,
  what: string,
  waitName = 'storage.lockTimeoutMs',
): Error {
  if (err instanceof StorageError) return err;
  const code = (err as { code?: string }).code ?? '';
  const message = (err as Error).message;
  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) {
    if (file.shared) {
      return new StorageBusyError(
        file.path,
        `${what}: another process held the file's lock longer than ${file.lockTimeoutMs} ms (${waitName}) (${message})`,
      );
    }
    const advice = 'give each process its own file, or set storage.shared: true to share it on purpose';
    return new StorageLockedError(file.path, `is in use by another process (${message}): ${advice}`);
  }
  if (code.startsWith('SQLITE_FULL')) {
    return new StorageFullError(file.path, `${what}: the disk is full (${message})`);
  }
  if (code.startsWith('SQLITE_IOERR')) {
    return new StorageIoError(file.path, `${what}: an I/O error (${code}: ${message})`);
  }
  if (code === 'SQLITE_NOTADB' || code.startsWith('SQLITE_CORRUPT')) {
    return new StorageCorruptError(
      file.path,
      `is not a readable SQLite database (${message}); it was left untouched — move it aside to start a new one`,
    );
  }
  return new StorageError(file.path, `${what}: ${message}`);
}
