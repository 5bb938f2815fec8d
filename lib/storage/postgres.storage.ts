import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { InvalidEventError, InvalidOptionError, StorageBufferFullError, StorageCommitUnknownError } from '../errors';
import { StorageError, StorageUnavailableError } from '../errors';
import { bodyBytes, EventKind } from '../tracker/payload';
import { checkBoolean, checkInteger, checkPositiveInteger, checkText } from '../validation';
import { CommitGroup } from './commit-group';
import { CommitOutcome, EventStorage, kindOf, StorageFailureHandler } from './event-storage.interface';
import { StoreDeadLetterRecord } from './event-storage.interface';
import {
  loadPg,
  OutboxListener,
  PostgresPool,
  PostgresResult,
  runStatement,
  SentQueryError,
} from './postgres-connection';
import {
  migratePostgresOutbox,
  migrationSql,
  OutboxNames,
  outboxNames,
  OutboxSql,
  outboxSql,
  PostgresOutboxNames,
} from './postgres-sql';
import { QueuedEvent } from './queued-event';
import { DEFAULT_CAPACITY } from './ring-buffer.storage';

export type { PostgresPool, PostgresPoolClient, PostgresResult } from './postgres-connection';

/** Options of `new PostgresStorage(...)` (and of `storage: { type: 'postgres', ... }`). */
export interface PostgresStorageOptions extends PostgresOutboxNames {
  /** Your `pg.Pool` (never ended by the store: call `emitter.stop()`, then `pool.end()`). Or: */
  pool?: PostgresPool;
  /** A connection string; the store makes its own pool, which never holds the process open. */
  connectionString?: string;
  /** Create the outbox at start (see `postgresOutboxDdl`). Default false: your migrations do. */
  createTable?: boolean;
  /** Most custom events in the whole table, all instances together; the oldest go first. Default 10,000. */
  capacity?: number;
  /** How long a relay holds the events it leased, ms; must exceed `requestTimeoutMs` + 1 s. Default 60,000. */
  leaseMs?: number;
  /** How often an idle relay looks at the table without a NOTIFY, ms. Default 5,000. */
  pollIntervalMs?: number;
  /** How long tracked events wait for their commit during an outage before it rejects, ms. Default 30,000. */
  commitTimeoutMs?: number;
  /** The longest one statement (and getting a connection) may take, ms. Default 10,000. */
  queryTimeoutMs?: number;
  /** Most events tracked and not yet committed; past it a track call throws `StorageBufferFullError`. Default 10,000. */
  maxBufferedEvents?: number;
  /** Who holds a lease. Default: host name, pid and a random part. */
  instanceId?: string;
}

/** A lease must outlive a request by this much, or a live owner's slow batch is leased twice. */
export const LEASE_MARGIN_MS = 1_000;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const RETRY_MS = { first: 100, cap: 5_000 };
const DTM = /"dtm":"(\d+)"/;

/** Events tracked together, written by the same INSERT: one commit promise for them all. */
interface Chunk {
  readonly events: QueuedEvent[];
  readonly group: CommitGroup;
  readonly since: number;
  /** A write of it failed after the statement was sent: it may be in the table. */
  unknown?: boolean;
}

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
  readonly durable = true;
  /** {@inheritDoc EventStorage.pollIntervalMs} */
  readonly pollIntervalMs: number;
  /** Who holds this instance's leases. */
  readonly instanceId: string;
  readonly leaseMs: number;
  private readonly names: OutboxNames;
  private readonly sql: OutboxSql;
  private readonly pool: PostgresPool;
  private readonly ownPool?: { end(): Promise<void> };
  private readonly listenConfig: object;
  private readonly commitTimeoutMs: number;
  private readonly queryTimeoutMs: number;
  private readonly maxBuffered: number;
  private ready?: Promise<void>;
  private readonly createTable: boolean;
  private handler?: StorageFailureHandler;
  private listener?: OutboxListener;
  private wake?: () => void;
  /** Oldest first; the last one takes new events until a flush takes it. */
  private chunks: Chunk[] = [];
  private inFlight: Chunk[] = [];
  private open?: Chunk;
  private readonly buffered: Record<EventKind, number> = { billing: 0, custom: 0 };
  /** The table's waiting rows as this instance last knew them. */
  private readonly waiting: Record<EventKind, number> = { billing: 0, custom: 0 };
  /** A NOTIFY or the poll interval says the table may hold rows this instance does not know of. */
  private maybeMore = true;
  private lastLookAt = 0;
  private flushing?: Promise<void>;
  private flushScheduled = false;
  private retryTimer?: NodeJS.Timeout;
  private retryDelayMs = 0;
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
    this.capacity = checkPositiveInteger('storage.capacity', options.capacity, DEFAULT_CAPACITY);
    this.leaseMs = checkInteger('storage.leaseMs', options.leaseMs, { min: 1_000, unit: 'ms' }, 60_000);
    this.pollIntervalMs = checkInteger(
      'storage.pollIntervalMs',
      options.pollIntervalMs,
      { min: 10, unit: 'ms' },
      5_000,
    );
    this.commitTimeoutMs = checkInteger(
      'storage.commitTimeoutMs',
      options.commitTimeoutMs,
      { min: 1, unit: 'ms' },
      30_000,
    );
    this.queryTimeoutMs = checkInteger(
      'storage.queryTimeoutMs',
      options.queryTimeoutMs,
      { min: 1, unit: 'ms' },
      10_000,
    );
    this.maxBuffered = checkPositiveInteger('storage.maxBufferedEvents', options.maxBufferedEvents, 10_000);
    this.createTable = checkBoolean('storage.createTable', options.createTable, false);
    this.instanceId =
      options.instanceId === undefined
        ? `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`
        : checkText('storage.instanceId', options.instanceId);
    const { pool, connectionString } = options;
    if ((pool === undefined) === (connectionString === undefined)) {
      throw new InvalidOptionError('storage.pool', 'give either a pg Pool (pool) or a connectionString, not both');
    }
    if (pool !== undefined) {
      if (pool === null || typeof pool.connect !== 'function')
        throw new InvalidOptionError('storage.pool', 'must be a pg Pool (an object with connect)');
      this.pool = pool;
      this.listenConfig = pool.options ?? {};
    } else {
      const config = { connectionString: checkText('storage.connectionString', connectionString) };
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
  }

  /** Checks that a lease outlives a request (`requestTimeoutMs`) by the margin; createStorage calls it. */
  static checkLease(leaseMs: number, requestTimeoutMs: number): void {
    if (leaseMs <= requestTimeoutMs + LEASE_MARGIN_MS)
      throw new InvalidOptionError(
        'storage.leaseMs',
        `must exceed requestTimeoutMs (${requestTimeoutMs}) + ${LEASE_MARGIN_MS} ms, or a slow batch is leased twice`,
      );
  }

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

  get size(): number {
    return this.sizeOf('billing') + this.sizeOf('custom');
  }

  sizeOf(kind: EventKind): number {
    if (!this.maybeMore && Date.now() - this.lastLookAt >= this.pollIntervalMs) this.maybeMore = true;
    const known = this.buffered[kind] + this.waiting[kind];
    // Rows other instances (or users' own INSERTs) may have added: one, so the send loop looks.
    const unknown = kind === 'custom' && this.maybeMore && this.waiting.billing + this.waiting.custom === 0 ? 1 : 0;
    return known + unknown;
  }

  onFailure(handler: StorageFailureHandler): void {
    this.handler = handler;
  }

  add(event: QueuedEvent): number {
    return this.addBatch([event]);
  }

  addBatch(events: readonly QueuedEvent[]): number {
    this.assertOpen();
    if (!Array.isArray(events)) throw new InvalidOptionError('events', 'must be an array');
    for (const event of events) checkEvent(event);
    if (this.buffered.billing + this.buffered.custom + events.length > this.maxBuffered) {
      throw new StorageBufferFullError(this.location, this.maxBuffered);
    }
    if (!this.open) {
      this.open = { events: [], group: new CommitGroup(), since: Date.now() };
      this.chunks.push(this.open);
    }
    for (const event of events) {
      this.open.events.push(event);
      this.buffered[kindOf(event)]++;
    }
    this.schedule();
    return 0;
  }

  lastCommit(): Promise<CommitOutcome> {
    return (this.open ?? this.chunks[this.chunks.length - 1] ?? { group: new CommitGroup() }).group.current();
  }

  /**
   * Writes `events` through the caller's open transaction (`exec` runs one statement in it), with
   * the INSERT the write-behind flush uses: the rows become visible to relays at the caller's
   * COMMIT, and a rollback leaves none.
   */
  async insertInTransaction(
    events: readonly QueuedEvent[],
    exec: (sql: string, params: unknown[]) => Promise<unknown>,
  ): Promise<void> {
    this.assertOpen();
    for (const event of events) checkEvent(event);
    const result = await exec(this.sql.insert, this.insertParams(events));
    const row = ((result as PostgresResult | null)?.rows ?? (result as unknown[]))?.[0] as { evicted?: unknown };
    this.evictions += Number(row?.evicted ?? 0) || 0;
  }

  async lease(maxCount: number, maxBytes?: number): Promise<QueuedEvent[]> {
    this.assertOpen();
    if (!Number.isSafeInteger(maxCount) || maxCount < 0)
      throw new InvalidOptionError('maxCount', 'must be a non-negative integer');
    if (this.chunks.length > 0 && !this.retryTimer) await this.flush();
    if (maxCount === 0) return [];
    // Orphans go back only while no other lease is on its way (its rows are not in `leased` yet).
    if (this.orphans && this.leasing === 0) this.releasingOrphans ??= this.releaseOrphans();
    if (this.releasingOrphans) await this.releasingOrphans;
    this.leasing++;
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
    this.maybeMore = rows.length >= maxCount;
    const events = rows.map(toEvent).sort((a, b) => rank(a) - rank(b) || (a.id as number) - (b.id as number));
    let bytes = 0;
    let keep = events.length;
    if (maxBytes !== undefined)
      for (let i = 0; i < events.length; i++) {
        bytes += events[i].bytes;
        if (bytes > maxBytes && i > 0) {
          keep = i;
          break;
        }
      }
    const surplus = events.splice(keep);
    if (surplus.length > 0) {
      await this.run(this.sql.release, [surplus.map((e) => e.id), surplus.map((e) => e.attempts), this.instanceId]);
      this.maybeMore = true;
    }
    for (const event of events) this.leased.add(event.id as number);
    for (const kind of ['billing', 'custom'] as const) {
      const n = events.filter((e) => kindOf(e) === kind).length;
      this.waiting[kind] = rows.length < maxCount ? 0 : Math.max(0, this.waiting[kind] - n);
    }
    return events;
  }

  async ack(events: readonly QueuedEvent[]): Promise<void> {
    const ids = events.filter((e) => e.id !== undefined).map((e) => e.id);
    if (ids.length > 0) await this.run(this.sql.ack, [ids, this.instanceId]);
    this.settled(events);
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

  /** Clears the leases (with the new attempt counts): the rows keep their place in their lane. */
  async release(events: readonly QueuedEvent[]): Promise<number> {
    const leased = events.filter((e) => e.id !== undefined);
    const loose = events.filter((e) => e.id === undefined);
    if (leased.length > 0) {
      const ids = leased.map((e) => e.id);
      const { rowCount } = await this.run(this.sql.release, [ids, leased.map((e) => e.attempts), this.instanceId]);
      if (rowCount) this.maybeMore = true;
      this.settled(leased);
    }
    // Events the store never took (held by the emitter after a refused add) are written now.
    if (loose.length > 0) this.addBatch(loose);
    return 0;
  }

  async deadLetter(events: readonly QueuedEvent[], record: StoreDeadLetterRecord): Promise<void> {
    const leased = events.filter((e) => e.id !== undefined);
    if (leased.length === 0) return;
    await this.run(this.sql.deadLetter, [
      leased.map((e) => e.id),
      leased.map((e) => e.attempts),
      this.instanceId,
      record.reason,
      record.statusCode ?? null,
      record.error,
    ]);
    this.settled(leased);
  }

  /** Rows in the whole table, every instance's, leased ones included. */
  async countAll(): Promise<number> {
    const { rows } = await this.run(this.sql.count, []);
    return Number(rows[0]?.total ?? 0);
  }

  takeEvictions(): number {
    const count = this.evictions;
    this.evictions = 0;
    return count;
  }

  onCommitted(wake: () => void): () => void {
    this.wake = wake;
    this.listener ??= new OutboxListener(this.listenConfig, this.names.channel, () => {
      this.maybeMore = true;
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
  async persist(timeoutMs: number): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    let pauseMs = RETRY_MS.first;
    while ((this.chunks.length > 0 || this.flushing) && Date.now() < deadline) {
      const left = deadline - Date.now();
      await Promise.race([this.flush(), new Promise((done) => setTimeout(done, left).unref())]);
      if (this.chunks.length === 0 && !this.flushing) break;
      if (this.flushing) continue;
      await new Promise((done) => setTimeout(done, Math.min(pauseMs, Math.max(0, deadline - Date.now()))));
      pauseMs = Math.min(RETRY_MS.cap, pauseMs * 2);
    }
    const left = [...this.inFlight, ...this.chunks];
    if (left.length === 0) return 0;
    const reason = `not written within ${timeoutMs} ms at shutdown (${this.lastError?.message ?? 'the write did not finish'})`;
    return this.giveUp(left, reason, 'shutdown');
  }

  /** Writes the buffer (see `persist`), releases this instance's leases, and ends the LISTEN connection and the pool the store made (never yours). */
  async close(): Promise<void> {
    if (this.closed) return;
    if (this.chunks.length > 0 || this.flushing) await this.persist(this.queryTimeoutMs);
    this.closed = true;
    clearTimeout(this.retryTimer);
    await this.listener?.stop();
    try {
      await this.run(this.sql.releaseAll, [this.instanceId]);
    } finally {
      await this.ownPool?.end();
    }
  }

  /** Runs `migratePostgresOutbox` (see there) with this store's pool. */
  static migrate = migratePostgresOutbox;

  private insertParams(events: readonly QueuedEvent[]): unknown[] {
    return [
      events.map((e) => e.eid),
      events.map((e) => kindOf(e)),
      events.map((e) => e.json),
      events.map((e) => e.attempts),
      this.capacity,
    ];
  }

  private schedule(): void {
    if (this.flushScheduled || this.retryTimer) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      void this.flush();
    });
  }

  private flush(): Promise<void> {
    if (!this.flushing && this.chunks.length > 0 && !this.closed) {
      this.flushing = this.write().finally(() => {
        this.flushing = undefined;
        if (this.chunks.length > 0) this.schedule();
      });
    }
    return this.flushing ?? Promise.resolve();
  }

  private async write(): Promise<void> {
    const taken = (this.inFlight = this.chunks.splice(0));
    this.open = undefined;
    let events = taken.flatMap((c) => c.events);
    // One INSERT cannot evict rows it inserts itself: custom events past capacity go here.
    const custom = events.filter((e) => kindOf(e) === 'custom');
    if (custom.length > this.capacity) {
      const drop = new Set(custom.slice(0, custom.length - this.capacity));
      events = events.filter((e) => !drop.has(e));
      this.evictions += drop.size;
    }
    try {
      const { rows } = await this.run(this.sql.insert, this.insertParams(events));
      if (this.inFlight !== taken) return; // given up meanwhile (persist's deadline)
      this.inFlight = [];
      this.evictions += Number(rows[0]?.evicted ?? 0);
      this.waiting.billing += Number(rows[0]?.billing ?? 0);
      this.waiting.custom += Math.max(0, Number(rows[0]?.custom ?? 0) - Number(rows[0]?.evicted ?? 0));
      for (const chunk of taken) this.settle(chunk, () => chunk.group.committed());
      this.retryDelayMs = 0;
      this.wake?.();
    } catch (err) {
      if (this.inFlight !== taken) return;
      this.inFlight = [];
      for (const chunk of taken) if (err instanceof SentQueryError) chunk.unknown = true;
      this.chunks.unshift(...taken);
      this.handler?.failed('flush', this.lastError as Error);
      const now = Date.now();
      const expired = this.chunks.filter((c) => now - c.since >= this.commitTimeoutMs);
      if (expired.length > 0)
        this.giveUp(
          expired,
          `not committed within commitTimeoutMs (${this.commitTimeoutMs} ms): ${this.lastError?.message}`,
          'not_stored',
        );
      if (this.chunks.length === 0 || this.closed) return;
      this.retryDelayMs = Math.min(RETRY_MS.cap, this.retryDelayMs * 2 || RETRY_MS.first);
      clearTimeout(this.retryTimer);
      const untilExpiry = this.chunks[0].since + this.commitTimeoutMs - now;
      this.retryTimer = setTimeout(
        () => {
          this.retryTimer = undefined;
          void this.flush();
        },
        Math.max(1, Math.min(this.retryDelayMs, untilExpiry)),
      ).unref();
    }
  }

  /** Gives chunks up: their promises reject, and the handler keeps a record of their events. */
  private giveUp(chunks: Chunk[], reason: string, when: 'shutdown' | 'not_stored'): number {
    const events: QueuedEvent[] = [];
    let error: StorageError | undefined;
    for (const chunk of chunks) {
      const err = chunk.unknown
        ? new StorageCommitUnknownError(
            this.location,
            `the connection was lost during the write, which may or may not have committed; ${reason}`,
          )
        : new StorageUnavailableError(this.location, reason);
      error ??= err;
      this.settle(chunk, () => chunk.group.failed(err));
      events.push(...chunk.events);
    }
    this.chunks = this.chunks.filter((c) => !chunks.includes(c));
    this.inFlight = this.inFlight.filter((c) => !chunks.includes(c));
    if (this.open && chunks.includes(this.open)) this.open = undefined;
    if (events.length > 0) this.handler?.unwritten(events, error as Error, when);
    return events.length;
  }

  private settle(chunk: Chunk, settle: () => void): void {
    for (const event of chunk.events) this.buffered[kindOf(event)]--;
    settle();
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

function checkEvent(event: QueuedEvent): void {
  if (event === null || typeof event !== 'object') throw new InvalidEventError('event', 'must be an object');
  if (typeof event.eid !== 'string' || !UUID.test(event.eid)) throw new InvalidEventError('eid', 'must be a uuid');
  if (typeof event.json !== 'string') throw new InvalidEventError('json', 'must be the payload text');
}

function rank(event: QueuedEvent): number {
  return kindOf(event) === 'billing' ? 0 : 1;
}

function toEvent(row: Record<string, unknown>): QueuedEvent {
  const json = String(row.payload);
  const dtm = Number(DTM.exec(json)?.[1]) || Math.round(Number(row.created));
  const kind = row.lane === 'billing' ? 'billing' : 'custom';
  return {
    kind,
    eid: String(row.eid),
    dtm,
    json,
    bytes: bodyBytes(json),
    attempts: Number(row.attempts),
    id: Number(row.seq),
  };
}
