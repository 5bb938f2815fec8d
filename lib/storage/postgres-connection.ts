import { loadOptional } from '../utils/optional-dependency';

/** Rows of a query, as node-postgres answers. */
export interface PostgresResult {
  rows: Array<Record<string, unknown>>;
  rowCount?: number | null;
}

/** A client checked out of a pool (`pg.PoolClient`, structurally). */
export interface PostgresPoolClient {
  query(sql: string, params?: unknown[]): Promise<PostgresResult>;
  release(err?: Error | boolean): void;
  /** A `pg` client's events: the store listens to `error`, so a connection lost between statements never crashes. */
  on?(event: 'error', listener: (err: Error) => void): unknown;
}

/**
 * A `pg.Pool`, typed by what the store uses, so that no declaration of this package imports `pg`.
 * The store never ends a pool it was given: call `emitter.stop()`, then end your pool.
 */
export interface PostgresPool {
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
