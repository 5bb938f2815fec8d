/**
 * What the PostgreSQL bench children share (bench/postgres.ts): the pool they hand the store, with
 * every statement the store runs timed by kind, so that a row can say where the time went.
 */
import type { Pool, PoolClient } from 'pg';

/** Where the outbox lives: set up by bench/children/pg-admin.ts, dropped at the end. */
export interface PgTarget {
  url: string;
  schema: string;
  table: string;
}

/** The store's statements, by their first words (lib/storage/postgres-sql.ts). */
export type StatementKind = 'insert' | 'lease' | 'ack' | 'release' | 'count' | 'other';

export interface StatementTimes {
  count: number;
  /** Wall ms from sending the statement to its answer, summed. */
  ms: number;
  /** Rows the statements returned or changed, summed. */
  rows: number;
  /** Most statements of this kind on their way at once. */
  peak?: number;
}

export type StatementStats = Partial<Record<StatementKind, StatementTimes>>;

function kindOf(sql: string): StatementKind {
  const head = sql.trimStart().slice(0, 16);
  if (head.startsWith('WITH ins')) return 'insert';
  if (head.startsWith('WITH b')) return 'lease';
  if (head.startsWith('DELETE')) return 'ack';
  if (head.startsWith('UPDATE')) return 'release';
  if (head.startsWith('SELECT count')) return 'count';
  return 'other';
}

export const silentLogger = { warn: () => undefined, error: () => undefined, log: () => undefined };

/**
 * A `pg.Pool` for the store, and a view of it that times each statement (the store only calls
 * `connect`, then `query` and `release` on the client). `warm` connections are opened first, so
 * that connecting is not in the measured time.
 */
export async function timedPool(
  url: string,
  warm = 4,
): Promise<{ pool: Pool; store: { connect(): Promise<PoolClient>; options: object }; stats: StatementStats }> {
  const { Pool: PgPool } = require('pg') as typeof import('pg');
  const pool = new PgPool({ connectionString: url, max: 10 });
  pool.on('error', () => undefined);
  const clients = await Promise.all(Array.from({ length: warm }, () => pool.connect()));
  for (const client of clients) client.release();
  const stats: StatementStats = {};
  const inFlight: Partial<Record<StatementKind, number>> = {};
  const wrapped = new WeakMap<PoolClient, PoolClient>();
  const wrap = (client: PoolClient): PoolClient => {
    let proxy = wrapped.get(client);
    if (proxy) return proxy;
    proxy = Object.create(client) as PoolClient;
    (proxy as unknown as { query: unknown }).query = async (sql: string, params?: unknown[]) => {
      const kind = kindOf(sql);
      const now = (inFlight[kind] = (inFlight[kind] ?? 0) + 1);
      const started = performance.now();
      let result;
      try {
        result = await client.query(sql, params);
      } finally {
        inFlight[kind] = (inFlight[kind] ?? 1) - 1;
      }
      const times = (stats[kind] ??= { count: 0, ms: 0, rows: 0 });
      times.peak = Math.max(times.peak ?? 0, now);
      times.count++;
      times.ms += performance.now() - started;
      // The INSERT answers one row of counts: its rows are the events it was given.
      times.rows += kind === 'insert' ? ((params?.[0] as unknown[] | undefined)?.length ?? 0) : (result.rowCount ?? 0);
      return result;
    };
    (proxy as unknown as { release: unknown }).release = (err?: Error | boolean) => client.release(err);
    wrapped.set(client, proxy);
    return proxy;
  };
  return {
    pool,
    store: { connect: async () => wrap(await pool.connect()), options: { connectionString: url } },
    stats,
  };
}

/** Wall-clock ms with sub-ms resolution: the bench collector's clock (bench/collector.ts). */
export function wallNow(): number {
  return performance.timeOrigin + performance.now();
}

/** User + system CPU of this process, µs. */
export function cpuNow(): number {
  const { user, system } = process.cpuUsage();
  return user + system;
}

/** The statements run since `before` (a `structuredClone` of the stats then). */
export function diffStats(now: StatementStats, before: StatementStats): StatementStats {
  const out: StatementStats = {};
  for (const [kind, t] of Object.entries(now) as Array<[StatementKind, StatementTimes]>) {
    const b = before[kind] ?? { count: 0, ms: 0, rows: 0 };
    out[kind] = { count: t.count - b.count, ms: t.ms - b.ms, rows: t.rows - b.rows, peak: t.peak };
  }
  return out;
}
