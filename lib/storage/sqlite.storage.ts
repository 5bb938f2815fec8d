import type BetterSqlite3 from 'better-sqlite3';
import { InvalidOptionError, MissingDependencyError, StorageCorruptError, StorageError, StorageLockedError } from '../errors';
import { EventStorage } from './event-storage.interface';
import { QueuedEvent } from './queued-event';
import { DEFAULT_CAPACITY } from './ring-buffer.storage';

export interface SqliteStorageOptions {
  /** The database file; created when missing. */
  path: string;
  /** Most events waiting in the file. Default 10,000. */
  capacity?: number;
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
  eid: string;
  dtm: number;
  json: string;
  bytes: number;
  attempts: number;
}

const SCHEMA_VERSION = '1';
const SHARED_POLL_INTERVAL_MS = 1_000;
const FREE_PAGES_BEFORE_VACUUM = 256;

function loadDriver(): typeof BetterSqlite3 {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require('better-sqlite3') as typeof BetterSqlite3;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'MODULE_NOT_FOUND') {
      throw new MissingDependencyError('better-sqlite3', 'The durable SQLite event store', 'npm install better-sqlite3@12');
    }
    throw err;
  }
}

function sqliteCode(err: unknown): string {
  return (err as { code?: string }).code ?? '';
}

/**
 * A durable outbox in a SQLite file (WAL, synchronous=NORMAL) through better-sqlite3.
 *
 * `add` is synchronous and cheap: events gather in memory and are written in one transaction per
 * event-loop tick (anything that reads the queue writes them first). Leased events stay in the
 * file until `ack`, so after a crash the next process sends them again with their original eid,
 * dtm and payload, oldest first. Deleted rows are reclaimed (incremental vacuum) and the WAL is
 * checkpointed and size-limited, so the file stays bounded by the capacity.
 */
export class SqliteStorage implements EventStorage {
  readonly capacity: number;
  readonly path: string;
  private readonly db: Database;
  private readonly shared: boolean;
  private readonly leaseTimeoutMs: number;
  private readonly statements: Record<'insert' | 'evict' | 'lease' | 'markLeased' | 'delete' | 'waiting', Statement>;
  private readonly writePending: () => void;
  private pending: QueuedEvent[] = [];
  private flushScheduled = false;
  /** Waiting rows in the file (exclusive mode: exact; shared: as of the last write). */
  private waitingInFile = 0;
  /** Oldest waiting events to delete at the next write (overwritten by newer ones). */
  private toEvict = 0;
  private acksSinceVacuum = 0;
  private closed = false;
  /** Set by the emitter: told of events this store dropped on its own. */
  onOverflow?: (count: number) => void;

  constructor(options: SqliteStorageOptions) {
    if (options === null || typeof options !== 'object') throw new InvalidOptionError('storage', 'must be an object');
    if (typeof options.path !== 'string' || options.path.trim() === '') {
      throw new InvalidOptionError('storage.path', 'must be a non-empty file path');
    }
    const capacity = options.capacity ?? DEFAULT_CAPACITY;
    if (!Number.isSafeInteger(capacity) || capacity < 1) throw new InvalidOptionError('storage.capacity', 'must be a positive integer');
    const leaseTimeoutMs = options.leaseTimeoutMs ?? 300_000;
    if (!Number.isSafeInteger(leaseTimeoutMs) || leaseTimeoutMs < 1) {
      throw new InvalidOptionError('storage.leaseTimeoutMs', 'must be a positive integer (ms)');
    }
    this.path = options.path;
    this.capacity = capacity;
    this.shared = options.shared === true;
    this.leaseTimeoutMs = leaseTimeoutMs;
    const Driver = loadDriver();
    let db: Database;
    try {
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
      insert: db.prepare('INSERT INTO snowplow_events (eid, dtm, json, bytes, attempts) VALUES (?, ?, ?, ?, ?)'),
      evict: db.prepare(
        'DELETE FROM snowplow_events WHERE seq IN (SELECT seq FROM snowplow_events WHERE leased_until <= ? ORDER BY seq LIMIT ?)',
      ),
      lease: db.prepare(
        'SELECT seq, eid, dtm, json, bytes, attempts FROM snowplow_events WHERE leased_until <= ? ORDER BY seq LIMIT ?',
      ),
      markLeased: db.prepare('UPDATE snowplow_events SET leased_until = ? WHERE seq = ?'),
      delete: db.prepare('DELETE FROM snowplow_events WHERE seq = ?'),
      waiting: db.prepare('SELECT count(*) AS n FROM snowplow_events WHERE leased_until <= ?').pluck(),
    };
    this.waitingInFile = this.countWaiting();
    this.writePending = () => {
      try {
        this.flushPending();
      } catch {
        // The events stay in memory (bounded by capacity); the send loop's next lease retries
        // the write and reports the error.
      }
    };
  }

  get size(): number {
    if (this.shared && !this.closed) this.refreshWaiting();
    return this.waitingInFile + this.pending.length - this.toEvict;
  }

  /** Shared files only: idle emitters look for other processes' events this often. */
  get pollIntervalMs(): number | undefined {
    return this.shared ? SHARED_POLL_INTERVAL_MS : undefined;
  }

  add(event: QueuedEvent): number {
    this.assertOpen();
    this.pending.push(event);
    this.schedule();
    return this.evictOverCapacity();
  }

  addBatch(events: readonly QueuedEvent[]): number {
    this.assertOpen();
    if (!Array.isArray(events)) throw new InvalidOptionError('events', 'must be an array');
    for (const event of events) this.pending.push(event);
    this.schedule();
    return this.evictOverCapacity();
  }

  get(maxCount: number, maxBytes?: number): QueuedEvent[] {
    const events = this.lease(maxCount, maxBytes);
    this.ack(events);
    return events;
  }

  lease(maxCount: number, maxBytes?: number): QueuedEvent[] {
    this.assertOpen();
    if (!Number.isSafeInteger(maxCount) || maxCount < 0) throw new InvalidOptionError('maxCount', 'must be a non-negative integer');
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
          const rows = this.statements.lease.all(now, maxCount) as Row[];
          const taken: QueuedEvent[] = [];
          let bytes = 0;
          for (const row of rows) {
            if (maxBytes !== undefined && taken.length > 0 && bytes + row.bytes > maxBytes) break;
            bytes += row.bytes;
            taken.push({ id: row.seq, eid: row.eid, dtm: row.dtm, json: row.json, bytes: row.bytes, attempts: row.attempts });
          }
          for (const event of taken) this.statements.markLeased.run(until, event.id);
          return taken;
        })
        .immediate(),
    );
    this.waitingInFile = Math.max(0, this.waitingInFile - out.length);
    return out;
  }

  ack(events: readonly QueuedEvent[]): void {
    this.assertOpen();
    if (events.length === 0) return;
    this.run('delete delivered events', () =>
      this.db.transaction(() => {
        for (const event of events) if (event.id !== undefined) this.statements.delete.run(event.id);
      })(),
    );
    this.acksSinceVacuum += events.length;
    if (this.acksSinceVacuum >= this.capacity) this.reclaim();
  }

  release(events: readonly QueuedEvent[]): number {
    this.assertOpen();
    if (events.length === 0) return 0;
    // Back of the queue, after everything added before: each row is re-inserted with a new
    // sequence number and its new attempt count, in the same transaction that deletes it.
    this.flushPending();
    this.run('requeue failed events', () =>
      this.db.transaction(() => {
        for (const e of events) {
          if (e.id !== undefined) this.statements.delete.run(e.id);
          this.statements.insert.run(e.eid, e.dtm, e.json, e.bytes, e.attempts);
        }
      })(),
    );
    this.waitingInFile += events.length;
    const overwritten = this.evictOverCapacity();
    if (overwritten > 0) this.schedule();
    return overwritten;
  }

  /** Writes what is pending and closes the file. Further calls throw. */
  close(): void {
    if (this.closed) return;
    try {
      this.flushPending();
      this.db.pragma('wal_checkpoint(TRUNCATE)');
    } finally {
      this.closed = true;
      this.db.close();
    }
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
    db.exec(`
      CREATE TABLE IF NOT EXISTS snowplow_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS snowplow_events (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        eid TEXT NOT NULL,
        dtm INTEGER NOT NULL,
        json TEXT NOT NULL,
        bytes INTEGER NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        leased_until INTEGER NOT NULL DEFAULT 0
      );
    `);
    const version = db.prepare("SELECT value FROM snowplow_meta WHERE key = 'schema_version'").pluck().get() as string | undefined;
    if (version === undefined) {
      db.prepare("INSERT INTO snowplow_meta (key, value) VALUES ('schema_version', ?)").run(SCHEMA_VERSION);
    } else if (version !== SCHEMA_VERSION) {
      throw new StorageError(this.path, `was written by an unknown version of nestjs-snowplow (schema ${version})`);
    }
    // This process owns the file: leases of a process that died go back to the queue.
    if (!this.shared) db.prepare('UPDATE snowplow_events SET leased_until = 0 WHERE leased_until > 0').run();
  }

  private countWaiting(): number {
    return this.run('count events', () => this.statements.waiting.get(Date.now()) as number);
  }

  /** A shared file changes under us: recount, keeping the last count if the file is busy. */
  private refreshWaiting(): void {
    try {
      this.waitingInFile = this.countWaiting();
    } catch {
      // The next write or lease reports the problem.
    }
  }

  private schedule(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(this.writePending);
  }

  /** Overwrites the oldest waiting events while more than `capacity` wait; returns how many. */
  private evictOverCapacity(): number {
    const over = this.size - this.capacity;
    if (over <= 0) return 0;
    this.toEvict += over;
    // Past the rows in the file, the oldest are still in memory: drop those right away.
    const inMemory = this.toEvict - this.waitingInFile;
    if (inMemory > 0) {
      this.pending.splice(0, inMemory);
      this.toEvict -= inMemory;
    }
    return over;
  }

  private flushPending(): void {
    this.flushScheduled = false;
    if (this.closed || (this.pending.length === 0 && this.toEvict === 0)) return;
    const batch = this.pending;
    const evict = this.toEvict;
    this.run('write events', () =>
      this.db.transaction(() => {
        const insert = this.statements.insert;
        for (const e of batch) insert.run(e.eid, e.dtm, e.json, e.bytes, e.attempts);
        if (evict > 0) this.statements.evict.run(Date.now(), evict);
      })(),
    );
    this.pending = [];
    this.toEvict = 0;
    this.waitingInFile = this.shared ? this.countWaiting() : this.waitingInFile + batch.length - evict;
    if (this.shared && this.waitingInFile > this.capacity) {
      // Other processes filled the file too: the oldest go, and are counted as overwritten here.
      const excess = this.waitingInFile - this.capacity;
      const { changes } = this.run('evict events', () => this.statements.evict.run(Date.now(), excess));
      this.waitingInFile -= changes;
      if (changes > 0) this.onOverflow?.(changes);
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
      return new StorageCorruptError(this.path, `is not a readable SQLite database (${message}); it was left untouched — move it aside to start a new one`);
    }
    return new StorageError(this.path, `${what}: ${message}`);
  }
}
