import { InvalidOptionError, StorageError } from '../errors';
import type { EventKind } from '../tracker/payload';
import { checkText } from '../validation';
import { CommitOutcome, EventStorage, TableCounts, kindOf, StorageFailureHandler } from './event-storage.interface';
import { StoreDeadLetterRecord } from './event-storage.interface';
import { loadPg, OutboxListener, PostgresPool, PostgresResult, runStatement, SentQueryError } from './postgres-io';
import { WriteBehind } from './postgres-io';
import { migratePostgresOutbox, migrationSql, OutboxNames, outboxNames, OutboxSql, outboxSql } from './postgres-sql';
import { checkEvent, fitting, PostgresStorageOptions, rank, resolvePostgresOptions, toEvent } from './postgres-sql';
import { QueuedEvent } from './queued-event';
import type { SqlExecutor } from '../tracker/transaction';
import { onExit } from '../utils/exit-hooks';

export type { PostgresPool, PostgresPoolClient, PostgresResult } from './postgres-io';
export type { PostgresStorageOptions } from './postgres-sql';

/** A lease must outlive a request by this much, or a live owner's slow batch is leased twice. */
export const LEASE_MARGIN_MS = 1_000;
const KINDS = ['billing', 'custom'] as const;

/**
 * A transactional outbox in PostgreSQL, shared by every instance of the app: each one writes and
 * relays. `add` is synchronous (it fills a bounded write-behind buffer); one multi-row INSERT per
 * flush writes the buffer and bounds the custom lane to `capacity` rows across the table, and the
 * events' `committed` promise settles at its commit. Relays lease with `FOR UPDATE SKIP LOCKED` and
 * a deadline, so the events of an instance that died are sent by another. A LISTEN connection wakes
 * the relay on every commit, with a slow poll as the fallback. Billing rows are never evicted:
 * `billingCapacity` is unbounded here. See docs/storage-seam.md.
 */
export class PostgresStorage implements EventStorage {
  /** {@inheritDoc EventStorage.capacity} */
  readonly capacity: number;
  /** Unbounded: billing rows are never evicted, and the table is the app's own database. */
  readonly billingCapacity = Number.MAX_SAFE_INTEGER;
  /** A table: events survive a restart, and any instance sends them. */
  readonly durable = true;
  /** {@inheritDoc EventStorage.pollIntervalMs} */
  readonly pollIntervalMs: number;
  /** Who holds this instance's leases. */
  readonly instanceId: string;
  /** How long a relay holds the events it leased, ms (`leaseMs`). */
  readonly leaseMs: number;
  /** How long tracked events wait for their commit during an outage, ms (`commitTimeoutMs`). */
  readonly commitTimeoutMs: number;
  /** The longest one statement may take, ms (`queryTimeoutMs`). */
  readonly queryTimeoutMs: number;
  /** Most events tracked and not yet committed (`maxBufferedEvents`). */
  readonly maxBuffered: number;
  private readonly names: OutboxNames;
  private readonly sql: OutboxSql;
  private readonly pool: PostgresPool;
  private readonly ownPool?: { end(): Promise<void> };
  private readonly listenConfig: object;
  private readonly createTable: boolean;
  private readonly buffer: WriteBehind;
  private ready?: Promise<void>;
  private failureHandler?: StorageFailureHandler;
  private unregisterExit?: () => void;
  private lastTableCounts?: TableCounts;
  private counting = false;
  private listener?: OutboxListener;
  private wake?: () => void;
  /** The table's waiting rows as this instance last knew them. */
  private readonly waiting: Record<EventKind, number> = { billing: 0, custom: 0 };
  /** A NOTIFY or the poll interval says the table may hold rows this instance does not know of. */
  private maybeMore = true;
  /** How many times rows were announced (NOTIFY, commits, drain()): a lease under way compares. */
  private announced = 0;
  private lastLookAt = 0;
  private lastError?: Error;
  private evictions = 0;
  /** Rows leased and not yet settled: the emitter holds them. */
  private readonly leased = new Set<number>();
  /** A lease's answer was lost: rows may be leased to this instance that nobody holds. */
  private orphans = false;
  private releasingOrphans?: Promise<void>;
  /** Lease statements on their way. */
  private leasing = 0;
  private closed = false;

  constructor(options: PostgresStorageOptions) {
    if (options === null || typeof options !== 'object') throw new InvalidOptionError('storage', 'must be an object');
    this.names = outboxNames(options);
    this.sql = outboxSql(this.names);
    ({
      capacity: this.capacity,
      leaseMs: this.leaseMs,
      pollIntervalMs: this.pollIntervalMs,
      commitTimeoutMs: this.commitTimeoutMs,
      queryTimeoutMs: this.queryTimeoutMs,
      maxBuffered: this.maxBuffered,
      createTable: this.createTable,
      instanceId: this.instanceId,
    } = resolvePostgresOptions(options));
    const { pool, connectionString } = options;
    if (pool === undefined && connectionString === undefined) {
      throw new InvalidOptionError('storage.connectionString', 'is required, or a pg Pool as storage.pool');
    }
    if (pool !== undefined && connectionString !== undefined) {
      throw new InvalidOptionError('storage.pool', 'give either a pg Pool (pool) or a connectionString, not both');
    }
    if (pool !== undefined) {
      if (pool === null || typeof pool.connect !== 'function')
        throw new InvalidOptionError('storage.pool', 'must be a pg Pool (an object with connect)');
      this.pool = pool;
      this.listenConfig = pool.options ?? {};
    } else {
      const config = { connectionString: checkText('storage.connectionString', connectionString) };
      // Idle clients are unref'd: a script that just ends still reaches the emitter's exit drain.
      const own = new (loadPg().Pool)({
        ...config,
        allowExitOnIdle: true,
        connectionTimeoutMillis: this.queryTimeoutMs,
      });
      (own as unknown as { on(e: string, l: () => void): void }).on('error', () => undefined);
      this.pool = own;
      this.ownPool = own;
      this.listenConfig = config;
    }
    this.buffer = new WriteBehind({
      location: this.location,
      capacity: this.capacity,
      commitTimeoutMs: this.commitTimeoutMs,
      maxBuffered: this.maxBuffered,
      insert: (events) => this.insert(events),
      evicted: (count) => (this.evictions += count),
      lastError: () => this.lastError,
      handler: () => this.failureHandler,
    });
  }

  /** Checks that a lease outlives a request (`requestTimeoutMs`) by the margin; `createStorage` calls it. */
  static checkLease(leaseMs: number, requestTimeoutMs: number): void {
    if (leaseMs <= requestTimeoutMs + LEASE_MARGIN_MS)
      throw new InvalidOptionError(
        'storage.leaseMs',
        `must exceed requestTimeoutMs (${requestTimeoutMs}) + ${LEASE_MARGIN_MS} ms, or a slow batch is leased twice`,
      );
  }

  /** Runs `migratePostgresOutbox` (see there). */
  static migrate = migratePostgresOutbox;

  /** `schema.table`. */
  get location(): string {
    return this.names.channel;
  }
  /** {@inheritDoc EventStorage.reachable} */
  get reachable(): boolean {
    return this.lastError === undefined;
  }
  /** {@inheritDoc EventStorage.writeError} */
  get writeError(): Error | undefined {
    return this.lastError;
  }

  /** {@inheritDoc EventStorage.size} */
  get size(): number {
    return this.sizeOf('billing') + this.sizeOf('custom');
  }

  /** Buffered, plus the table's waiting rows as this instance knows them. */
  sizeOf(kind: EventKind): number {
    return this.buffer.buffered[kind] + this.waiting[kind];
  }

  /** {@inheritDoc EventStorage.mayHaveMore} */
  get mayHaveMore(): boolean {
    if (!this.maybeMore && Date.now() - this.lastLookAt >= this.pollIntervalMs) this.maybeMore = true;
    return this.maybeMore;
  }

  /** {@inheritDoc EventStorage.onFailure} */
  onFailure(handler: StorageFailureHandler): void {
    this.failureHandler = handler;
    // A process that exits with events not yet committed (process.exit(), a crash) cannot write
    // them any more: the handler keeps their record (the dead-letter file, or their payload logged).
    this.unregisterExit ??= onExit(() => this.buffer.atExit());
  }

  /**
   * Buffers the event (no I/O); throws `StorageBufferFullError` when the buffer is full. Evicts
   * nothing here: the INSERT does, counted by `takeEvictions`.
   */
  add(event: QueuedEvent): number {
    return this.addBatch([event]);
  }

  /** Buffers the events, all or none (see `add`). */
  addBatch(events: readonly QueuedEvent[]): number {
    this.assertOpen();
    if (!Array.isArray(events)) throw new InvalidOptionError('events', 'must be an array');
    for (const event of events) checkEvent(event);
    this.buffer.add(events);
    return 0;
  }

  /** The commit promise of the events `add` took last: settles at their flush's COMMIT (shared by the flush). */
  lastCommit(): Promise<CommitOutcome> {
    return this.buffer.lastCommit();
  }

  /**
   * Writes `events` through the caller's open transaction (`exec` runs one statement in it), with
   * the INSERT the write-behind flush uses: the rows become visible to relays at the caller's
   * COMMIT, and a rollback leaves none.
   */
  async insertInTransaction(events: readonly QueuedEvent[], exec: SqlExecutor): Promise<void> {
    this.assertOpen();
    for (const event of events) checkEvent(event);
    const result = await exec(this.sql.insert, this.insertParams(events));
    const row = ((result as PostgresResult | null)?.rows ?? (result as unknown[]))?.[0] as { evicted?: unknown };
    this.evictions += Number(row?.evicted ?? 0) || 0;
    // Visible at the caller's COMMIT: until the relay has looked, the table may hold them.
    this.expectRows();
  }

  /**
   * Flushes the buffer, then leases up to `maxCount` waiting rows (billing first, FIFO per lane) for
   * `leaseMs`, skipping rows other relays hold; rows past `maxBytes` are released at once.
   */
  async lease(maxCount: number, maxBytes?: number): Promise<QueuedEvent[]> {
    this.assertOpen();
    if (!Number.isSafeInteger(maxCount) || maxCount < 0)
      throw new InvalidOptionError('maxCount', 'must be a non-negative integer');
    if (this.buffer.due) await this.buffer.flush();
    this.refreshTableCounts();
    if (maxCount === 0) return [];
    // Orphans go back only while no other lease is on its way (its rows are not in `leased` yet).
    if (this.orphans && this.leasing === 0) this.releasingOrphans ??= this.releaseOrphans();
    if (this.releasingOrphans) await this.releasingOrphans;
    this.leasing++;
    const announcedAtStart = this.announced;
    let rows: PostgresResult['rows'];
    try {
      ({ rows } = await this.run(this.sql.lease, [this.instanceId, maxCount, this.leaseMs]));
    } catch (err) {
      // Sent, but no answer: the rows it leased wait for a later lease to put them back.
      if (err instanceof SentQueryError) this.orphans = true;
      throw err;
    } finally {
      this.leasing--;
    }
    this.lastLookAt = Date.now();
    // Rows announced while this lease was on its way (a NOTIFY, drain()'s look) may not be in it.
    this.maybeMore = rows.length >= maxCount || this.announced !== announcedAtStart;
    const events = rows.map(toEvent).sort((a, b) => rank(a) - rank(b) || (a.id as number) - (b.id as number));
    // Held before any further await: an orphan release that starts meanwhile must not free them.
    for (const event of events) this.leased.add(event.id as number);
    for (const kind of KINDS) {
      const n = events.filter((e) => kindOf(e) === kind).length;
      this.waiting[kind] = rows.length < maxCount ? 0 : Math.max(0, this.waiting[kind] - n);
    }
    const surplus = events.splice(fitting(events, maxBytes));
    if (surplus.length > 0) {
      await this.release(surplus);
      this.expectRows();
    }
    return events;
  }

  /**
   * Extends the lease of every row this instance holds, `events`' and those of the other batches in
   * flight alike: a batch whose halves are sent one after another keeps the rows still waiting for
   * their turn, not only the half about to go.
   */
  async renewLeases(events: readonly QueuedEvent[]): Promise<void> {
    const ids = new Set(this.leased);
    for (const event of events) if (event.id !== undefined) ids.add(event.id);
    if (ids.size > 0) await this.run(this.sql.renew, [[...ids], this.instanceId, this.leaseMs]);
  }

  /** {@inheritDoc EventStorage.lookAgain} */
  lookAgain(): void {
    this.expectRows();
  }

  /** Rows this instance has not counted may wait: the send loop looks (see `mayHaveMore`). */
  private expectRows(): void {
    this.maybeMore = true;
    this.announced++;
  }

  /** Deletes delivered rows this instance still holds (a lease taken over by another instance is left to it). */
  async ack(events: readonly QueuedEvent[]): Promise<void> {
    const ids = events.filter((e) => e.id !== undefined).map((e) => e.id);
    if (ids.length > 0) await this.run(this.sql.ack, [ids, this.instanceId]);
    this.settled(events);
  }

  /** Clears the leases (with the new attempt counts): the rows keep their place in their lane. */
  async release(events: readonly QueuedEvent[]): Promise<number> {
    const leased = events.filter((e) => e.id !== undefined);
    if (leased.length > 0) {
      const ids = leased.map((e) => e.id);
      const { rowCount } = await this.run(this.sql.release, [ids, leased.map((e) => e.attempts), this.instanceId]);
      if (rowCount) this.expectRows();
      this.settled(leased);
      // Waiting again (unless another instance took them over: then it counts them).
      if (rowCount) for (const kind of KINDS) this.waiting[kind] += leased.filter((e) => kindOf(e) === kind).length;
    }
    // Events the store never took (held by the emitter after a refused add) are written now.
    const loose = events.filter((e) => e.id === undefined);
    if (loose.length > 0) this.addBatch(loose);
    return 0;
  }

  /** Moves leased events to `<table>_dead` with why, in one statement (see `StoreDeadLetterRecord`). */
  async deadLetter(events: readonly QueuedEvent[], record: StoreDeadLetterRecord): Promise<void> {
    const leased = events.filter((e) => e.id !== undefined);
    if (leased.length === 0) return;
    const { reason, statusCode, error } = record;
    const ids = leased.map((e) => e.id);
    await this.run(this.sql.deadLetter, [
      ids,
      leased.map((e) => e.attempts),
      this.instanceId,
      reason,
      statusCode ?? null,
      error,
    ]);
    this.settled(leased);
  }

  /** Rows in the whole table, every instance's, leased ones included. */
  async countAll(): Promise<number> {
    const { rows } = await this.run(this.sql.count, []);
    return Number(rows[0]?.total ?? 0);
  }

  /** {@inheritDoc EventStorage.tableCounts} */
  get tableCounts(): TableCounts | undefined {
    return this.lastTableCounts;
  }

  /** The whole table counted on the relay's way, at most once per `pollIntervalMs`, never awaited. */
  private refreshTableCounts(): void {
    const now = Date.now();
    if (this.counting || now - (this.lastTableCounts?.countedAt ?? 0) < this.pollIntervalMs) return;
    this.counting = true;
    this.run(this.sql.count, []).then(
      ({ rows }) => {
        this.counting = false;
        const total = Number(rows[0]?.total ?? 0);
        this.lastTableCounts = { total, waiting: Number(rows[0]?.waiting ?? total), countedAt: Date.now() };
      },
      () => (this.counting = false),
    );
  }

  /** {@inheritDoc EventStorage.takeEvictions} */
  takeEvictions(): number {
    const count = this.evictions;
    this.evictions = 0;
    return count;
  }

  /** Opens the LISTEN connection (unref'd, reconnected with a backoff): `wake` on every commit to the table. */
  onCommitted(wake: () => void): () => void {
    this.wake = wake;
    this.listener ??= new OutboxListener(this.listenConfig, this.names.channel, () => {
      this.expectRows();
      this.wake?.();
    });
    this.listener.start();
    return () => {
      this.wake = undefined;
      void this.listener?.stop();
      this.listener = undefined;
    };
  }

  /**
   * Writes the buffer now, trying again until `timeoutMs` passes; what is still unwritten then is
   * given up (`handler.unwritten(..., 'shutdown')`, its commit promise rejected). Resolves with how many.
   */
  persist(timeoutMs: number): Promise<number> {
    return this.buffer.persist(timeoutMs);
  }

  /**
   * Writes the buffer (see `persist`), releases this instance's leases, and ends the LISTEN
   * connection and the pool the store made (never yours).
   */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.buffer.persist(this.queryTimeoutMs);
    this.closed = true;
    this.unregisterExit?.();
    this.buffer.stop();
    await this.listener?.stop();
    try {
      await this.run(this.sql.releaseAll, [this.instanceId]);
    } finally {
      await this.ownPool?.end();
    }
  }

  private async insert(events: QueuedEvent[]): Promise<void> {
    const { rows } = await this.run(this.sql.insert, this.insertParams(events));
    const [billing, custom, evicted] = [rows[0]?.billing, rows[0]?.custom, rows[0]?.evicted].map(Number);
    this.evictions += evicted;
    this.waiting.billing += billing;
    this.waiting.custom += Math.max(0, custom - evicted);
    this.wake?.();
  }

  private insertParams(events: readonly QueuedEvent[]): unknown[] {
    const column = <T>(pick: (event: QueuedEvent) => T) => events.map(pick);
    return [column((e) => e.eid), column(kindOf), column((e) => e.json), column((e) => e.attempts), this.capacity];
  }

  private async releaseOrphans(): Promise<void> {
    try {
      await this.run(this.sql.releaseOrphans, [this.instanceId, [...this.leased]]);
      this.orphans = false;
    } finally {
      this.releasingOrphans = undefined;
    }
  }

  private settled(events: readonly QueuedEvent[]): void {
    for (const event of events) if (event.id !== undefined) this.leased.delete(event.id);
  }

  /** One statement, bounded in time; its outcome sets or clears `reachable` and `writeError`. */
  private async run(sql: string, params: unknown[]): Promise<PostgresResult> {
    try {
      if (this.createTable) await (this.ready ??= this.migrate());
      const result = await runStatement(this.pool, sql, params, this.queryTimeoutMs);
      this.lastError = undefined;
      return result;
    } catch (err) {
      const cause = err instanceof SentQueryError ? err.cause : (err as Error);
      this.lastError = new StorageError(this.location, cause?.message ?? String(err));
      throw err;
    }
  }

  /** `createTable`: the DDL, once (tried again by the next statement if it failed). */
  private async migrate(): Promise<void> {
    try {
      await runStatement(this.pool, migrationSql(this.names), [], this.queryTimeoutMs);
    } catch (err) {
      this.ready = undefined;
      throw err;
    }
  }

  private assertOpen(): void {
    if (this.closed) throw new StorageError(this.location, 'is closed');
  }
}
