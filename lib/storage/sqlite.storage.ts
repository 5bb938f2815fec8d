import { closeSync, openSync } from 'node:fs';
import type BetterSqlite3 from 'better-sqlite3';
import { InvalidOptionError, StorageCorruptError, StorageError, StorageLockedError } from '../errors';
import type { EventKind } from '../tracker/payload';
import { onProcessExit } from '../utils/exit-hooks';
import { loadOptional } from '../utils/optional-dependency';
import { EventStorage, kindOf } from './event-storage.interface';
import { QueuedEvent } from './queued-event';
import { DEFAULT_BILLING_CAPACITY, DEFAULT_CAPACITY } from './ring-buffer.storage';

/** Options of `new SqliteStorage(...)` (and of `storage: { type: 'sqlite', ... }`). */
export interface SqliteStorageOptions {
  /** The database file; created (mode 0600) when missing. */
  path: string;
  /** Most custom events waiting in the file. Default 10,000. */
  capacity?: number;
  /** Most billing events waiting in the file. Default 10,000. */
  billingCapacity?: number;
  /**
   * Let several processes use the same file. Off by default: a second process opening the file
   * gets a `StorageLockedError`. When on, a lease that was not acked or released within
   * `leaseTimeoutMs` (its process died) returns to the queue.
   */
  shared?: boolean;
  /** Shared mode only: how long a lease lasts, ms. Default 300,000. */
  leaseTimeoutMs?: number;
}

type Database = BetterSqlite3.Database;
type Statement = BetterSqlite3.Statement;

interface Row {
  seq: number;
  kind: EventKind;
  eid: string;
  dtm: number;
  json: string;
  bytes: number;
  attempts: number;
}

const SCHEMA_VERSION = '2';
const SHARED_POLL_INTERVAL_MS = 1_000;
const FREE_PAGES_BEFORE_VACUUM = 256;
const KINDS: readonly EventKind[] = ['billing', 'custom'];

function loadDriver(): typeof BetterSqlite3 {
  return loadOptional<typeof BetterSqlite3>({
    name: 'better-sqlite3',
    feature: 'The durable SQLite event store',
    install: 'npm install better-sqlite3@12',
  });
}

function sqliteCode(err: unknown): string {
  return (err as { code?: string }).code ?? '';
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
 * A durable outbox in a SQLite file (WAL, synchronous=NORMAL) through better-sqlite3, holding both
 * lanes in one table.
 *
 * A billing event is committed before `add` returns. Custom events gather in memory and are
 * written in one transaction per event-loop tick, and at the latest when the process exits
 * (`process.exit()`, an uncaught exception or unhandled rejection, or the end of the event loop);
 * anything that reads the queue writes them first. Leased events stay in the file until `ack`, so
 * after a crash the next process sends them again with their original eid, dtm and payload,
 * oldest first. Deleted rows are reclaimed (incremental vacuum) and the WAL is checkpointed and
 * size-limited, so the file stays bounded by the capacities. The file is created with mode 0600:
 * it holds user and instance ids.
 */
export class SqliteStorage implements EventStorage {
  /** {@inheritDoc EventStorage.capacity} */
  readonly capacity: number;
  /** {@inheritDoc EventStorage.billingCapacity} */
  readonly billingCapacity: number;
  /** The database file. */
  readonly path: string;
  /** A file: events survive a restart. */
  readonly durable = true;
  private readonly db: Database;
  private readonly shared: boolean;
  private readonly leaseTimeoutMs: number;
  private readonly statements: Record<
    'insert' | 'evict' | 'leaseBilling' | 'leaseCustom' | 'markLeased' | 'delete' | 'waiting',
    Statement
  >;
  private readonly writePending: () => void;
  private readonly unregisterExitHook: () => void;
  /** Custom events not yet in the file. */
  private pending: QueuedEvent[] = [];
  private flushScheduled = false;
  /** Rows in the file per lane, waiting and leased (exclusive mode: exact; shared: as of the last count). */
  private readonly waitingInFile: Record<EventKind, number> = { billing: 0, custom: 0 };
  private readonly leasedInFile: Record<EventKind, number> = { billing: 0, custom: 0 };
  /** Shared mode: when leases of processes that died were last looked for. */
  private lastReclaimAt = 0;
  /** Oldest waiting custom events to delete at the next write (overwritten by newer ones). */
  private toEvict = 0;
  /** Custom events other processes' writes pushed out of a shared file, not yet reported. */
  private unreportedEvictions = 0;
  private acksSinceVacuum = 0;
  private closed = false;

  constructor(options: SqliteStorageOptions) {
    if (options === null || typeof options !== 'object') throw new InvalidOptionError('storage', 'must be an object');
    if (typeof options.path !== 'string' || options.path.trim() === '') {
      throw new InvalidOptionError('storage.path', 'must be a non-empty file path');
    }
    this.capacity = checkCapacity('storage.capacity', options.capacity, DEFAULT_CAPACITY);
    this.billingCapacity = checkCapacity('billing.capacity', options.billingCapacity, DEFAULT_BILLING_CAPACITY);
    const leaseTimeoutMs = options.leaseTimeoutMs ?? 300_000;
    if (!Number.isSafeInteger(leaseTimeoutMs) || leaseTimeoutMs < 1) {
      throw new InvalidOptionError('storage.leaseTimeoutMs', 'must be a positive integer (ms)');
    }
    this.path = options.path;
    this.shared = options.shared === true;
    this.leaseTimeoutMs = leaseTimeoutMs;
    const Driver = loadDriver();
    let db: Database;
    try {
      createPrivateFile(this.path);
      db = new Driver(this.path, { timeout: this.shared ? 5_000 : 0 });
    } catch (err) {
      throw new StorageError(this.path, `cannot open the file (${(err as Error).message})`);
    }
    this.db = db;
    try {
      this.open();
    } catch (err) {
      db.close();
      throw this.translate(err, 'cannot open the event store');
    }
    this.statements = {
      insert: db.prepare(
        'INSERT INTO snowplow_events (kind, eid, dtm, json, bytes, attempts) VALUES (?, ?, ?, ?, ?, ?)',
      ),
      evict: db.prepare(
        "DELETE FROM snowplow_events WHERE seq IN (SELECT seq FROM snowplow_events WHERE kind = 'custom' AND leased_until <= ? ORDER BY seq LIMIT ?)",
      ),
      leaseBilling: db.prepare(
        "SELECT seq, kind, eid, dtm, json, bytes, attempts FROM snowplow_events WHERE kind = 'billing' AND leased_until <= ? ORDER BY seq LIMIT ?",
      ),
      leaseCustom: db.prepare(
        "SELECT seq, kind, eid, dtm, json, bytes, attempts FROM snowplow_events WHERE kind = 'custom' AND leased_until <= ? ORDER BY seq LIMIT ?",
      ),
      markLeased: db.prepare('UPDATE snowplow_events SET leased_until = ?, leased_by = ? WHERE seq = ?'),
      delete: db.prepare('DELETE FROM snowplow_events WHERE seq = ?'),
      waiting: db.prepare(
        'SELECT kind, leased_until <= ? AS waiting, count(*) AS n FROM snowplow_events GROUP BY kind, leased_until <= ?',
      ),
    };
    this.countRows();
    this.writePending = () => {
      try {
        this.flushPending();
      } catch {
        // The events stay in memory (bounded by capacity); the send loop's next lease retries
        // the write and reports the error.
      }
    };
    this.unregisterExitHook = onProcessExit(this.writePending);
  }

  /** {@inheritDoc EventStorage.size} */
  get size(): number {
    if (this.shared && !this.closed) this.refreshCounts();
    return this.waitingInFile.billing + this.waitingInFile.custom + this.pending.length - this.toEvict;
  }

  /** {@inheritDoc EventStorage.sizeOf} */
  sizeOf(kind: EventKind): number {
    if (this.shared && !this.closed) this.refreshCounts();
    return kind === 'billing'
      ? this.waitingInFile.billing
      : this.waitingInFile.custom + this.pending.length - this.toEvict;
  }

  /** Shared files only: idle emitters look for other processes' events this often. */
  get pollIntervalMs(): number | undefined {
    return this.shared ? SHARED_POLL_INTERVAL_MS : undefined;
  }

  /** {@inheritDoc EventStorage.add} */
  add(event: QueuedEvent): number {
    this.assertOpen();
    if (kindOf(event) === 'billing') {
      this.run('write a billing event', () => this.insert(event));
      this.waitingInFile.billing++;
      return 0;
    }
    this.pending.push(event);
    this.schedule();
    return this.evictOverCapacity();
  }

  /** {@inheritDoc EventStorage.addBatch} */
  addBatch(events: readonly QueuedEvent[]): number {
    this.assertOpen();
    if (!Array.isArray(events)) throw new InvalidOptionError('events', 'must be an array');
    const billing = events.filter((e) => kindOf(e) === 'billing');
    if (billing.length > 0) {
      this.run('write billing events', () => this.db.transaction(() => billing.forEach((e) => this.insert(e)))());
      this.waitingInFile.billing += billing.length;
    }
    for (const event of events) if (kindOf(event) === 'custom') this.pending.push(event);
    this.schedule();
    return this.evictOverCapacity();
  }

  /** {@inheritDoc EventStorage.lease} */
  lease(maxCount: number, maxBytes?: number): QueuedEvent[] {
    this.assertOpen();
    if (!Number.isSafeInteger(maxCount) || maxCount < 0)
      throw new InvalidOptionError('maxCount', 'must be a non-negative integer');
    this.flushPending();
    if (maxCount === 0 || this.size === 0) return [];
    const now = Date.now();
    // Leases of this process's own file last until ack, release or the next open; in a shared
    // file they expire, so the events of a process that died come back.
    const until = this.shared ? now + this.leaseTimeoutMs : Number.MAX_SAFE_INTEGER;
    const out = this.run('lease events', () =>
      // One immediate transaction: another process sharing the file cannot lease the same rows.
      this.db
        .transaction(() => {
          const taken: QueuedEvent[] = [];
          let bytes = 0;
          lanes: for (const kind of KINDS) {
            if (taken.length >= maxCount) break;
            const statement = kind === 'billing' ? this.statements.leaseBilling : this.statements.leaseCustom;
            const rows = statement.all(now, maxCount - taken.length) as Row[];
            for (const row of rows) {
              if (maxBytes !== undefined && taken.length > 0 && bytes + row.bytes > maxBytes) break lanes;
              bytes += row.bytes;
              taken.push({
                id: row.seq,
                kind: row.kind,
                eid: row.eid,
                dtm: row.dtm,
                json: row.json,
                bytes: row.bytes,
                attempts: row.attempts,
              });
            }
          }
          for (const event of taken) this.statements.markLeased.run(until, process.pid, event.id);
          return taken;
        })
        .immediate(),
    );
    for (const event of out) {
      const kind = kindOf(event);
      this.waitingInFile[kind] = Math.max(0, this.waitingInFile[kind] - 1);
      this.leasedInFile[kind]++;
    }
    return out;
  }

  /** {@inheritDoc EventStorage.ack} */
  ack(events: readonly QueuedEvent[]): void {
    this.assertOpen();
    if (events.length === 0) return;
    this.run('delete delivered events', () =>
      this.db.transaction(() => {
        for (const event of events) if (event.id !== undefined) this.statements.delete.run(event.id);
      })(),
    );
    for (const event of events) if (event.id !== undefined) this.unlease(event);
    this.acksSinceVacuum += events.length;
    if (this.acksSinceVacuum >= this.capacity) this.reclaim();
  }

  /** {@inheritDoc EventStorage.release} */
  release(events: readonly QueuedEvent[]): number {
    this.assertOpen();
    if (events.length === 0) return 0;
    // Back of the lane, after everything added before: each row is re-inserted with a new
    // sequence number and its new attempt count, in the same transaction that deletes it.
    this.flushPending();
    this.run('requeue failed events', () =>
      this.db.transaction(() => {
        for (const e of events) {
          if (e.id !== undefined) this.statements.delete.run(e.id);
          this.insert(e);
        }
      })(),
    );
    for (const event of events) {
      if (event.id !== undefined) this.unlease(event);
      this.waitingInFile[kindOf(event)]++;
    }
    const overwritten = this.evictOverCapacity();
    if (overwritten > 0) this.schedule();
    return overwritten;
  }

  /** Writes what is pending and closes the file. Further calls throw. */
  close(): void {
    if (this.closed) return;
    this.unregisterExitHook();
    try {
      this.flushPending();
      this.db.pragma('wal_checkpoint(TRUNCATE)');
    } finally {
      this.closed = true;
      this.db.close();
    }
  }

  private unlease(event: QueuedEvent): void {
    const kind = kindOf(event);
    this.leasedInFile[kind] = Math.max(0, this.leasedInFile[kind] - 1);
  }

  private insert(e: QueuedEvent): void {
    this.statements.insert.run(kindOf(e), e.eid, e.dtm, e.json, e.bytes, e.attempts);
  }

  private open(): void {
    const db = this.db;
    // A quick read tells a non-database or corrupt file before anything writes to it.
    db.pragma('schema_version');
    if (!this.shared) db.pragma('locking_mode = EXCLUSIVE');
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
          leased_by INTEGER NOT NULL DEFAULT 0
        );
      `);
      const version = db.prepare("SELECT value FROM snowplow_meta WHERE key = 'schema_version'").pluck().get() as
        string | undefined;
      if (version === '1') this.migrateFromVersion1();
      else if (version !== undefined && version !== SCHEMA_VERSION) {
        throw new StorageError(this.path, `was written by an unknown version of nestjs-snowplow (schema ${version})`);
      }
      // Billing rows are found through a partial index, which custom inserts (the many) never touch;
      // custom rows are read in rowid order, skipping the few billing rows among them.
      db.exec(
        "DROP INDEX IF EXISTS snowplow_events_lane; CREATE INDEX IF NOT EXISTS snowplow_billing ON snowplow_events (seq) WHERE kind = 'billing'",
      );
      db.prepare("INSERT OR REPLACE INTO snowplow_meta (key, value) VALUES ('schema_version', ?)").run(SCHEMA_VERSION);
    }).immediate();
    // This process owns the file: leases of a process that died go back to the queue. In a shared
    // file, only the leases of processes that are gone (see reclaimDeadLeases).
    if (!this.shared)
      db.prepare('UPDATE snowplow_events SET leased_until = 0, leased_by = 0 WHERE leased_until > 0').run();
    else this.reclaimDeadLeases();
  }

  /**
   * Shared mode: a process killed with events in flight leaves them leased until its lease
   * times out. Processes sharing a WAL file run on one host, so a lease whose process no longer
   * exists is returned to the queue at once. Looked at once per poll interval at most.
   */
  private reclaimDeadLeases(): void {
    const now = Date.now();
    if (now - this.lastReclaimAt < SHARED_POLL_INTERVAL_MS) return;
    this.lastReclaimAt = now;
    const owners = this.db
      .prepare('SELECT DISTINCT leased_by FROM snowplow_events WHERE leased_until > ? AND leased_by NOT IN (0, ?)')
      .pluck()
      .all(now, process.pid) as number[];
    const release = this.db.prepare(
      'UPDATE snowplow_events SET leased_until = 0, leased_by = 0 WHERE leased_by = ? AND leased_until > ?',
    );
    for (const pid of owners) if (!processExists(pid)) release.run(pid, now);
  }

  /** Version 1 had one lane: its structured events (`"e":"se"`) are billing events. */
  private migrateFromVersion1(): void {
    this.db.exec(`
      ALTER TABLE snowplow_events ADD COLUMN kind TEXT NOT NULL DEFAULT 'custom';
      ALTER TABLE snowplow_events ADD COLUMN leased_by INTEGER NOT NULL DEFAULT 0;
      UPDATE snowplow_events SET kind = 'billing' WHERE json LIKE '{"e":"se"%';
    `);
  }

  private countRows(): void {
    const now = Date.now();
    const rows = this.run(
      'count events',
      () => this.statements.waiting.all(now, now) as Array<{ kind: EventKind; waiting: number; n: number }>,
    );
    for (const kind of KINDS) {
      this.waitingInFile[kind] = 0;
      this.leasedInFile[kind] = 0;
    }
    for (const row of rows) {
      const kind = row.kind === 'billing' ? 'billing' : 'custom';
      (row.waiting ? this.waitingInFile : this.leasedInFile)[kind] += row.n;
    }
  }

  /** A shared file changes under us: recount, keeping the last count if the file is busy. */
  private refreshCounts(): void {
    try {
      this.reclaimDeadLeases();
      this.countRows();
    } catch {
      // The next write or lease reports the problem.
    }
  }

  private schedule(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(this.writePending);
  }

  /**
   * Overwrites the oldest waiting custom events while the file would hold more than `capacity`
   * custom events, in flight included (so a restart, which puts what was in flight back in the
   * queue, never finds the file over capacity); returns how many.
   */
  private evictOverCapacity(): number {
    const over = this.sizeOf('custom') + this.leasedInFile.custom - this.capacity;
    if (over <= 0) return 0;
    this.toEvict += over;
    // Past the rows in the file, the oldest are still in memory: drop those right away.
    const inMemory = this.toEvict - this.waitingInFile.custom;
    if (inMemory > 0) {
      this.pending.splice(0, inMemory);
      this.toEvict -= inMemory;
    }
    return over;
  }

  /** Custom events dropped since the last call because other processes filled a shared file. */
  takeEvictions(): number {
    const count = this.unreportedEvictions;
    this.unreportedEvictions = 0;
    return count;
  }

  private flushPending(): void {
    this.flushScheduled = false;
    if (this.closed || (this.pending.length === 0 && this.toEvict === 0)) return;
    const batch = this.pending;
    const evict = this.toEvict;
    this.run('write events', () =>
      this.db.transaction(() => {
        for (const e of batch) this.insert(e);
        if (evict > 0) this.statements.evict.run(Date.now(), evict);
      })(),
    );
    this.pending = [];
    this.toEvict = 0;
    if (!this.shared) {
      this.waitingInFile.custom += batch.length - evict;
      return;
    }
    this.countRows();
    const excess = this.waitingInFile.custom + this.leasedInFile.custom - this.capacity;
    if (excess > 0) {
      // Other processes filled the file too: the oldest go, reported by takeEvictions().
      const { changes } = this.run('evict events', () => this.statements.evict.run(Date.now(), excess));
      this.waitingInFile.custom -= changes;
      this.unreportedEvictions += changes;
    }
  }

  /** Returns freed pages to the file system and keeps the WAL small. */
  private reclaim(): void {
    this.acksSinceVacuum = 0;
    this.run('reclaim space', () => {
      const free = this.db.pragma('freelist_count', { simple: true }) as number;
      if (free >= FREE_PAGES_BEFORE_VACUUM) this.db.pragma('incremental_vacuum');
      this.db.pragma('wal_checkpoint(PASSIVE)');
    });
  }

  private assertOpen(): void {
    if (this.closed) throw new StorageError(this.path, 'is closed');
  }

  private run<T>(what: string, fn: () => T): T {
    try {
      return fn();
    } catch (err) {
      throw this.translate(err, `cannot ${what}`);
    }
  }

  private translate(err: unknown, what: string): Error {
    if (err instanceof StorageError) return err;
    const code = sqliteCode(err);
    const message = (err as Error).message;
    if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) {
      const advice = this.shared
        ? 'another process held it longer than the 5 s busy timeout'
        : 'give each process its own file, or set storage.shared: true to share it on purpose';
      return new StorageLockedError(this.path, `is in use by another process (${message}): ${advice}`);
    }
    if (code === 'SQLITE_NOTADB' || code.startsWith('SQLITE_CORRUPT')) {
      return new StorageCorruptError(
        this.path,
        `is not a readable SQLite database (${message}); it was left untouched — move it aside to start a new one`,
      );
    }
    return new StorageError(this.path, `${what}: ${message}`);
  }
}

/** Whether a process with this id exists on this host (EPERM: it exists, owned by another user). */
function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function checkCapacity(option: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
    throw new InvalidOptionError(option, 'must be a positive integer');
  }
  return value;
}
