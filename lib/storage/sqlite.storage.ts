import { InvalidOptionError, StorageError } from '../errors';
import type { EventKind } from '../tracker/payload';
import { onProcessExit } from '../utils/exit-hooks';
import { BackgroundWrites } from './background-writes';
import { CommitGroup, DURABLE } from './commit-group';
import { CommitOutcome, kindOf, StorageFailureHandler, SyncEventStorage } from './event-storage.interface';
import { releaseLeasesOfDeadProcesses } from './lease-owner';
import { QueuedEvent } from './queued-event';
import {
  Database,
  KINDS,
  leaseRows,
  OutboxFile,
  OutboxStatements,
  openOutbox,
  prepareStatements,
  reclaimSpace,
  shrinkWal,
  translateSqliteError,
} from './sqlite-file';
import { resolveSqliteOptions, SqliteStorageOptions } from './sqlite-options';

export type { SqliteStorageOptions } from './sqlite-options';

const SHARED_POLL_INTERVAL_MS = 1_000;

/**
 * A durable outbox in a SQLite file (WAL, synchronous=NORMAL) through better-sqlite3, holding both
 * lanes in one table.
 *
 * A billing event is committed before `add` returns, or `add` throws a `StorageError` naming the
 * cause (`StorageFullError`, `StorageIoError`, `StorageBusyError`). Custom events gather in memory
 * and are written in one transaction per event-loop tick, and at the latest when the process exits
 * (`process.exit()`, an uncaught exception or unhandled rejection, or the end of the event loop);
 * anything that reads the queue writes them first. A failed write keeps them in memory (bounded by
 * the capacity), tells the `onFailure` handler and is retried with a backoff, while the rows already
 * in the file are still leased, sent and deleted (freeing a full disk); at exit or close,
 * what still cannot be written goes to the handler (the emitter dead-letters it). Leased events
 * stay in the file until `ack`, so after a crash the next process sends them again with their
 * original eid, dtm and payload, oldest first. Deleted rows are reclaimed (incremental vacuum) and
 * the WAL is checkpointed and size-limited, so the file stays bounded by the capacities. The file
 * is created with mode 0600: it holds user and instance ids.
 */
export class SqliteStorage implements SyncEventStorage {
  /** {@inheritDoc EventStorage.capacity} */
  readonly capacity: number;
  /** {@inheritDoc EventStorage.billingCapacity} */
  readonly billingCapacity: number;
  /** The database file. */
  readonly path: string;
  /** {@inheritDoc EventStorage.location} */
  get location(): string {
    return this.path;
  }
  /** A file: events survive a restart. */
  readonly durable = true;
  private readonly db: Database;
  private readonly file: OutboxFile;
  private readonly leaseTimeoutMs: number;
  private readonly statements: OutboxStatements;
  private readonly writePending: () => void;
  private readonly background: BackgroundWrites;
  private readonly unregisterExitHook: () => void;
  private lastWriteError?: Error;
  /** Custom events not yet in the file. */
  private pending: QueuedEvent[] = [];
  /** The commit promise of the pending custom events (the end-of-tick write). */
  private readonly pendingCommit = new CommitGroup();
  private lastAddedBilling = false;
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
    ({
      capacity: this.capacity,
      billingCapacity: this.billingCapacity,
      leaseTimeoutMs: this.leaseTimeoutMs,
      file: this.file,
    } = resolveSqliteOptions(options));
    this.path = this.file.path;
    this.db = openOutbox(this.file);
    this.statements = prepareStatements(this.db);
    this.countRows();
    this.background = new BackgroundWrites(
      () => this.flushPending(),
      () => {
        this.toEvict = 0;
        this.pendingCommit.failed(new StorageError(this.path, 'the events could not be written at exit'));
        return this.pending.splice(0);
      },
      () => shrinkWal(this.db, this.file),
    );
    this.writePending = () => this.background.run();
    this.unregisterExitHook = onProcessExit(() => this.background.atExit());
  }

  /** {@inheritDoc EventStorage.onFailure} */
  onFailure(handler: StorageFailureHandler): void {
    this.background.handler = handler;
  }

  /** {@inheritDoc EventStorage.writeError} */
  get writeError(): Error | undefined {
    return this.lastWriteError;
  }

  /** {@inheritDoc EventStorage.size} */
  get size(): number {
    if (this.file.shared && !this.closed) this.refreshCounts();
    return this.waitingInFile.billing + this.waitingInFile.custom + this.pending.length - this.toEvict;
  }

  /** {@inheritDoc EventStorage.sizeOf} */
  sizeOf(kind: EventKind): number {
    if (this.file.shared && !this.closed) this.refreshCounts();
    return kind === 'billing'
      ? this.waitingInFile.billing
      : this.waitingInFile.custom + this.pending.length - this.toEvict;
  }

  /** Shared files only: idle emitters look for other processes' events this often. */
  get pollIntervalMs(): number | undefined {
    return this.file.shared ? SHARED_POLL_INTERVAL_MS : undefined;
  }

  /** {@inheritDoc EventStorage.add} */
  add(event: QueuedEvent): number {
    this.assertOpen();
    if (kindOf(event) === 'billing') {
      this.run('write a billing event', () => this.insert(event));
      this.waitingInFile.billing++;
      this.lastAddedBilling = true;
      return 0;
    }
    this.lastAddedBilling = false;
    this.pending.push(event);
    this.schedule();
    return this.evictOverCapacity();
  }

  /** {@inheritDoc EventStorage.lastCommit} */
  lastCommit(): Promise<CommitOutcome> {
    return this.lastAddedBilling ? DURABLE : this.pendingCommit.current();
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
    this.background.runUnlessRetrying();
    if (maxCount === 0 || this.size === 0) return [];
    const now = Date.now();
    // Leases of this process's own file last until ack, release or the next open; in a shared
    // file they expire, so the events of a process that died come back.
    const until = this.file.shared ? now + this.leaseTimeoutMs : Number.MAX_SAFE_INTEGER;
    // One immediate transaction: another process sharing the file cannot lease the same rows.
    const out = this.run('lease events', () =>
      this.db.transaction(() => leaseRows(this.statements, { now, until, maxCount, maxBytes })).immediate(),
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
    // Only the rows this call deleted leave the counts: an ack tried again deletes nothing.
    const deleted = this.run('delete delivered events', () =>
      this.db.transaction(() =>
        events.filter((e) => e.id !== undefined && this.statements.delete.run(e.id).changes > 0),
      )(),
    );
    for (const event of deleted) this.unlease(event);
    this.acksSinceVacuum += deleted.length;
    // The delete has committed: whatever reclaiming space does, the ack succeeded.
    if (this.acksSinceVacuum >= this.capacity) this.reclaim();
  }

  /** {@inheritDoc EventStorage.release} */
  release(events: readonly QueuedEvent[]): number {
    this.assertOpen();
    if (events.length === 0) return 0;
    // Back of the lane, after everything added before: each row is re-inserted with a new
    // sequence number and its new attempt count, in the same transaction that deletes it.
    this.background.runUnlessRetrying();
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

  /** Writes what is pending (or hands it to the failure handler) and closes the file. Further calls throw. */
  close(): void {
    if (this.closed) return;
    this.unregisterExitHook();
    this.background.stop();
    try {
      // What cannot be written now goes to the failure handler, as at exit.
      this.background.atExit();
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

  /** Shared mode: returns the leases of processes that died, once per poll interval at most. */
  private reclaimDeadLeases(): void {
    const now = Date.now();
    if (now - this.lastReclaimAt < SHARED_POLL_INTERVAL_MS) return;
    this.lastReclaimAt = now;
    releaseLeasesOfDeadProcesses(this.db);
  }

  private countRows(): void {
    const now = Date.now();
    const rows = this.run(
      'count events',
      () => this.statements.count.all(now, now) as Array<{ kind: EventKind; waiting: number; n: number }>,
      false,
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
    if (this.flushScheduled || this.background.retrying) return;
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
    this.pendingCommit.committed();
    if (!this.file.shared) {
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

  /** Reclaims freed pages (see `reclaimSpace`); a failure is told to the handler, never to the ack. */
  private reclaim(): void {
    this.acksSinceVacuum = 0;
    const failure = reclaimSpace(this.db, this.file);
    if (failure) this.background.handler?.failed('ack', failure);
  }

  private assertOpen(): void {
    if (this.closed) throw new StorageError(this.path, 'is closed');
  }

  /**
   * Runs a statement, translating SQLite's errors; a write's outcome sets or clears `writeError`
   * (kept while pending events wait for a retry: the store still refuses them).
   */
  private run<T>(what: string, fn: () => T, write = true): T {
    try {
      const result = fn();
      if (write && !this.background.retrying) this.lastWriteError = undefined;
      return result;
    } catch (err) {
      const error = translateSqliteError(err, this.file, `cannot ${what}`);
      if (write) this.lastWriteError = error;
      throw error;
    }
  }
}
