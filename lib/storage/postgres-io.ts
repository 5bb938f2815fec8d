import { StorageBufferFullError, StorageCommitUnknownError, StorageUnavailableError } from '../errors';
import type { EventKind } from '../tracker/payload';
import { loadOptional } from '../utils/optional-dependency';
import { CommitGroup } from './commit-group';
import { CommitOutcome, kindOf, StorageFailureHandler } from './event-storage.interface';
import { QueuedEvent } from './queued-event';

/** Rows of a query, as node-postgres answers. */
export interface PostgresResult {
  /** The rows, one object per row. */
  rows: Array<Record<string, unknown>>;
  /** Rows the statement changed. */
  rowCount?: number | null;
}

/** A client checked out of a pool (`pg.PoolClient`, structurally). */
export interface PostgresPoolClient {
  /** Runs one statement. */
  query(sql: string, params?: unknown[]): Promise<PostgresResult>;
  /** Gives the client back; with an error, the pool ends it. */
  release(err?: Error | boolean): void;
  /** A `pg` client's events: the store listens to `error`, so a connection lost between statements never crashes. */
  on?(event: 'error', listener: (err: Error) => void): unknown;
}

/**
 * A `pg.Pool`, typed by what the store uses, so that no declaration of this package imports `pg`.
 * The store never ends a pool it was given: call `emitter.stop()`, then end your pool.
 */
export interface PostgresPool {
  /** Checks a client out. */
  connect(): Promise<PostgresPoolClient>;
  /** A `pg.Pool` keeps its connection options here; the LISTEN connection is opened with them. */
  readonly options?: object;
}

/** The part of `pg` the store loads (at first use, through the one optional-peer loader). */
interface PgModule {
  Pool: new (config: object) => PostgresPool & { end(): Promise<void> };
  Client: new (config: object) => ListenClient;
}

interface ListenClient {
  connect(): Promise<unknown>;
  query(sql: string): Promise<unknown>;
  end(): Promise<void>;
  on(event: 'notification' | 'error' | 'end', listener: (...args: unknown[]) => void): unknown;
  removeAllListeners(): unknown;
  unref?(): void;
}

export function loadPg(): PgModule {
  return loadOptional<PgModule>({
    name: 'pg',
    feature: 'The PostgreSQL event store',
    install: 'npm install pg@8',
  });
}

/** A query failed after it may have reached the server: whether it committed is unknown. */
export class SentQueryError extends Error {
  constructor(override readonly cause: Error) {
    super(cause.message);
  }
}

/**
 * The statement did not commit: the server answered with an error (a SQLSTATE), or writing it to
 * the socket failed (it never reached the server whole).
 */
function surelyNotCommitted(err: unknown): boolean {
  const { code, syscall } = (err ?? {}) as { code?: unknown; syscall?: unknown };
  if (syscall === 'write' || syscall === 'connect') return true;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) && !code.startsWith('08');
}

/** Clients of the pool that already have the store's `error` listener. */
const guarded = new WeakSet<object>();

function timeout(what: string, ms: number): Error {
  return new Error(`${what} did not answer within ${ms} ms`);
}

/**
 * Runs one statement on a client of `pool`, bounded by `timeoutMs` for the connect and for the
 * query each. A client whose query timed out is destroyed, never returned to the pool. Errors after
 * the statement was sent are `SentQueryError`s unless the server answered them.
 */
export async function runStatement(
  pool: PostgresPool,
  sql: string,
  params: unknown[],
  timeoutMs: number,
): Promise<PostgresResult> {
  let timedOut = false;
  const connecting = pool.connect();
  const client = await bounded(connecting, timeoutMs, 'connecting to PostgreSQL', () => {
    timedOut = true;
    // A connection that comes after all goes straight back.
    connecting.then((late) => late.release(), ignore);
  });
  if (timedOut) throw timeout('connecting to PostgreSQL', timeoutMs);
  if (!guarded.has(client)) {
    guarded.add(client);
    client.on?.('error', ignore);
  }
  try {
    const result = await bounded(client.query(sql, params), timeoutMs, 'PostgreSQL', () => undefined);
    client.release();
    return result;
  } catch (err) {
    // A broken or hung connection is ended (a query in progress: its socket destroyed).
    client.release(err instanceof Error ? err : true);
    if (surelyNotCommitted(err)) throw err;
    throw new SentQueryError(err instanceof Error ? err : new Error(String(err)));
  }
}

function bounded<T>(promise: Promise<T>, ms: number, what: string, onTimeout: () => void): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      onTimeout();
      reject(timeout(what, ms));
    }, ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (err: unknown) => {
        clearTimeout(timer);
        reject(err as Error);
      },
    );
  });
}

const ignore = (): void => undefined;
const RECONNECT_MS = { first: 250, cap: 30_000 };

/**
 * One dedicated connection that LISTENs on the outbox's channel and calls `notified` on every
 * NOTIFY (the trigger sends one per committed INSERT, ours and users' own), and once each time the
 * LISTEN is in place (at start, and after a lost connection is opened again with a backoff), since
 * commits before it sent no notification it heard. Its socket and timers never hold the process open.
 */
export class OutboxListener {
  private client?: ListenClient;
  private timer?: NodeJS.Timeout;
  private delayMs = 0;
  private stopped = false;

  constructor(
    private readonly config: object,
    private readonly channel: string,
    private readonly notified: () => void,
  ) {}

  start(): void {
    void this.connect();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    const client = this.client;
    this.client = undefined;
    if (client) await client.end().catch(ignore);
  }

  private async connect(): Promise<void> {
    this.timer = undefined;
    if (this.stopped) return;
    let client: ListenClient;
    try {
      client = new (loadPg().Client)(this.config);
    } catch {
      return; // no pg: the store reports that on its first statement
    }
    client.on('error', ignore);
    client.on('notification', () => this.notified());
    client.on('end', () => this.lost(client));
    client.unref?.();
    this.client = client;
    try {
      await client.connect();
      client.unref?.();
      await client.query(`LISTEN "${this.channel}"`);
    } catch {
      this.lost(client);
      return;
    }
    if (this.stopped) {
      await client.end().catch(ignore);
      return;
    }
    this.delayMs = 0;
    // Commits before the LISTEN (at start, or while reconnecting) sent no notification we heard.
    this.notified();
  }

  private lost(client: ListenClient): void {
    if (this.client !== client) return;
    this.client = undefined;
    client.removeAllListeners();
    client.on('error', ignore);
    client.end().catch(ignore);
    if (this.stopped) return;
    this.delayMs = Math.min(RECONNECT_MS.cap, this.delayMs * 2 || RECONNECT_MS.first);
    this.timer = setTimeout(() => void this.connect(), this.delayMs).unref();
  }
}

const RETRY_MS = { first: 100, cap: 5_000 };

/** Events tracked together, written by the same INSERT: one commit promise for them all. */
interface Chunk {
  readonly events: QueuedEvent[];
  readonly group: CommitGroup;
  readonly since: number;
  /** A write of it failed after the statement was sent: it may be in the table. */
  unknown?: boolean;
}

/** What the write-behind buffer needs from its store. */
export interface WriteBehindHost {
  readonly location: string;
  /** The custom lane's capacity: one INSERT never carries more custom rows. */
  readonly capacity: number;
  readonly commitTimeoutMs: number;
  readonly maxBuffered: number;
  /** Runs the INSERT of `events`; rejects as `runStatement` does. */
  insert(events: QueuedEvent[]): Promise<void>;
  /** Custom events dropped in memory, past the capacity. */
  evicted(count: number): void;
  /** The store's last error, for messages. */
  lastError(): Error | undefined;
  /** Who hears of failed flushes and keeps a record of events given up. */
  handler(): StorageFailureHandler | undefined;
}

/**
 * The bounded write-behind buffer of a database store: `add` is synchronous; one flush per tick
 * writes everything buffered with one INSERT, and settles each chunk's shared commit promise. A
 * failed flush keeps the events and retries with a backoff; events older than `commitTimeoutMs`
 * are given up (their promise rejects, the handler keeps a record as `not_stored`).
 */
export class WriteBehind {
  readonly buffered: Record<EventKind, number> = { billing: 0, custom: 0 };
  /** Oldest first; `open` takes new events until a flush takes it. */
  private chunks: Chunk[] = [];
  private inFlight: Chunk[] = [];
  private open?: Chunk;
  private flushing?: Promise<void>;
  private scheduled = false;
  private retryTimer?: NodeJS.Timeout;
  private retryDelayMs = 0;
  private stopped = false;

  constructor(private readonly host: WriteBehindHost) {}

  /** Events wait, and no retry is scheduled: a reader should flush them first. */
  get due(): boolean {
    return this.chunks.length > 0 && !this.retryTimer;
  }

  add(events: readonly QueuedEvent[]): void {
    const { maxBuffered, location } = this.host;
    if (this.buffered.billing + this.buffered.custom + events.length > maxBuffered) {
      throw new StorageBufferFullError(location, maxBuffered);
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
  }

  /** The commit promise of the events added last. */
  lastCommit(): Promise<CommitOutcome> {
    return (this.open ?? this.chunks[this.chunks.length - 1] ?? { group: new CommitGroup() }).group.current();
  }

  flush(): Promise<void> {
    if (!this.flushing && this.chunks.length > 0 && !this.stopped) {
      this.flushing = this.write().finally(() => {
        this.flushing = undefined;
        if (this.chunks.length > 0) this.schedule();
      });
    }
    return this.flushing ?? Promise.resolve();
  }

  /** Flushes until done or `timeoutMs` passes; then gives up what is left (`shutdown`). Resolves with how many. */
  async persist(timeoutMs: number): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    let pauseMs = RETRY_MS.first;
    while ((this.chunks.length > 0 || this.flushing) && Date.now() < deadline) {
      await within(this.flush(), deadline - Date.now());
      if (this.flushing || this.chunks.length === 0) continue;
      await delay(Math.min(pauseMs, deadline - Date.now()));
      pauseMs = Math.min(RETRY_MS.cap, pauseMs * 2);
    }
    // An INSERT on its way is waited for (each statement is bounded by queryTimeoutMs): giving its
    // events up now would report as not stored rows that may commit a moment later. If it ends
    // without an answer, its events are given up as "may or may not have committed".
    if (this.flushing) await this.flushing;
    const left = [...this.inFlight, ...this.chunks];
    if (left.length === 0) return 0;
    const why = this.host.lastError()?.message ?? 'the write did not finish';
    return this.giveUp(left, `not written within ${timeoutMs} ms at shutdown (${why})`, 'shutdown');
  }

  /**
   * The process is exiting (synchronously, no more I/O): every event not known to be committed is
   * given up (`shutdown`), so the handler keeps its record. Those of an INSERT on its way may be in
   * the table too.
   */
  atExit(): void {
    const left = [...this.inFlight, ...this.chunks];
    if (left.length === 0) return;
    const writing = this.flushing ? ' (those of the INSERT on its way may be in the table too)' : '';
    this.giveUp(left, `the process exited before these events were committed${writing}`, 'shutdown');
  }

  /** No more writes or retries (the store closes). */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.retryTimer);
  }

  private schedule(): void {
    if (this.scheduled || this.retryTimer) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      void this.flush();
    });
  }

  private async write(): Promise<void> {
    const taken = (this.inFlight = this.chunks.splice(0));
    this.open = undefined;
    let events = taken.flatMap((c) => c.events);
    // One INSERT cannot evict rows it inserts itself: custom events past capacity go here.
    const custom = events.filter((e) => kindOf(e) === 'custom');
    if (custom.length > this.host.capacity) {
      const drop = new Set(custom.slice(0, custom.length - this.host.capacity));
      events = events.filter((e) => !drop.has(e));
      this.host.evicted(drop.size);
    }
    try {
      await this.host.insert(events);
      if (this.inFlight !== taken) return; // given up meanwhile (persist's deadline)
      this.inFlight = [];
      for (const chunk of taken) this.settle(chunk, () => chunk.group.committed());
      this.retryDelayMs = 0;
    } catch (err) {
      if (this.inFlight !== taken) return;
      this.inFlight = [];
      if (err instanceof SentQueryError) for (const chunk of taken) chunk.unknown = true;
      this.chunks.unshift(...taken);
      this.failed(err as Error);
    }
  }

  /** Gives up what waited past `commitTimeoutMs`, and schedules a retry of the rest. */
  private failed(err: Error): void {
    const { commitTimeoutMs } = this.host;
    const writeError = this.host.lastError();
    this.host.handler()?.failed('flush', writeError ?? err);
    const now = Date.now();
    const expired = this.chunks.filter((c) => now - c.since >= commitTimeoutMs);
    const why = writeError?.message ?? err.message;
    if (expired.length > 0)
      this.giveUp(expired, `not committed within commitTimeoutMs (${commitTimeoutMs} ms): ${why}`, 'not_stored');
    if (this.chunks.length === 0 || this.stopped) return;
    this.retryDelayMs = Math.min(RETRY_MS.cap, this.retryDelayMs * 2 || RETRY_MS.first);
    clearTimeout(this.retryTimer);
    const untilExpiry = this.chunks[0].since + commitTimeoutMs - now;
    this.retryTimer = setTimeout(
      () => {
        this.retryTimer = undefined;
        void this.flush();
      },
      Math.max(1, Math.min(this.retryDelayMs, untilExpiry)),
    ).unref();
  }

  /** Gives chunks up: their promises reject, and the handler keeps a record of their events. */
  private giveUp(chunks: Chunk[], reason: string, when: 'shutdown' | 'not_stored'): number {
    const { location } = this.host;
    const events: QueuedEvent[] = [];
    let first: Error | undefined;
    for (const chunk of chunks) {
      const err = chunk.unknown
        ? new StorageCommitUnknownError(
            location,
            `the connection was lost during the write, which may or may not have committed; ${reason}`,
          )
        : new StorageUnavailableError(location, reason);
      first ??= err;
      this.settle(chunk, () => chunk.group.failed(err));
      events.push(...chunk.events);
    }
    this.chunks = this.chunks.filter((c) => !chunks.includes(c));
    this.inFlight = this.inFlight.filter((c) => !chunks.includes(c));
    if (this.open && chunks.includes(this.open)) this.open = undefined;
    if (events.length > 0) this.host.handler()?.unwritten(events, first as Error, when);
    return events.length;
  }

  private settle(chunk: Chunk, settle: () => void): void {
    for (const event of chunk.events) this.buffered[kindOf(event)]--;
    settle();
  }
}

/** Waits `ms` (a bounded step of a shutdown: the timer holds the process meanwhile). */
function delay(ms: number): Promise<void> {
  return new Promise((done) => setTimeout(done, Math.max(0, ms)));
}

/** Waits for `promise`, at most `ms`; never rejects. */
function within(promise: Promise<void>, ms: number): Promise<void> {
  return new Promise((done) => {
    const timer = setTimeout(done, Math.max(0, ms));
    const finish = () => {
      clearTimeout(timer);
      done();
    };
    promise.then(finish, finish);
  });
}
