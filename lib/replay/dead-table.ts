import { InvalidOptionError } from '../errors';
import { outboxNames, PostgresOutboxNames } from '../storage/postgres-sql';

/** What `requeueDeadLetterTable` runs its one statement through: a `pg.Pool`, a `pg.Client`, anything with `query`. */
export interface DeadTableQueryable {
  /** Runs one statement with `$n` parameters and resolves with its rows (as `pg` does). */
  query(sql: string, params?: unknown[]): Promise<{ rows: unknown[] }>;
}

/** Which rows of the PostgreSQL dead-letter table to send again. */
export interface RequeueDeadLettersOptions extends PostgresOutboxNames {
  /** Only rows given up for these reasons (`expired`, `shutdown`, `rejected`, ...). Default: every row. */
  reasons?: readonly string[];
  /** Only these event ids. Default: every row. */
  eids?: readonly string[];
}

/** What `requeueDeadLetterTable` did. */
export interface RequeueDeadLettersResult {
  /** Rows moved back into the outbox, where every instance's relay sends them. */
  requeued: number;
  /** Of them, billing events. */
  billing: number;
}

/**
 * The replay of the PostgreSQL store's dead-letter table (`<table>_dead`): moves the chosen rows
 * back into the outbox in one statement (so each row is in exactly one of the two tables at any
 * moment), with its eid, lane and payload, its attempts reset and no lease. The relays of every
 * running instance then send them as any other row (woken by the outbox's NOTIFY trigger); a row
 * the collector refuses again goes back to the dead-letter table with its new reason. A row whose
 * eid is in the outbox already stays where it is.
 *
 * @example
 * ```ts
 * const { requeued } = await requeueDeadLetterTable(pool, { reasons: ['expired', 'shutdown'] });
 * ```
 */
export async function requeueDeadLetterTable(
  db: DeadTableQueryable,
  options: RequeueDeadLettersOptions = {},
): Promise<RequeueDeadLettersResult> {
  if (!db || typeof (db as { query?: unknown }).query !== 'function') {
    throw new InvalidOptionError('db', 'must be a pg Pool or Client (an object with query)');
  }
  const n = outboxNames(options, 'options');
  const reasons = textList('reasons', options.reasons);
  const eids = textList('eids', options.eids);
  const { rows } = await db.query(
    `WITH moved AS (
  DELETE FROM ${n.dead} AS d
  WHERE ($1::text[] IS NULL OR d.reason = ANY($1::text[]))
    AND ($2::uuid[] IS NULL OR d.eid = ANY($2::uuid[]))
    AND NOT EXISTS (SELECT 1 FROM ${n.outbox} AS o WHERE o.eid = d.eid)
  RETURNING d.eid, d.lane, d.payload, d.created_at
), ins AS (
  INSERT INTO ${n.outbox} (eid, lane, lane_seq, payload, created_at, attempts)
  SELECT eid, lane, CASE WHEN lane = 'custom' THEN nextval('${n.laneSeq}') ELSE 0 END, payload, created_at, 0
  -- One row per eid: an event dead-lettered twice goes back once.
  FROM (SELECT DISTINCT ON (eid) * FROM moved ORDER BY eid, created_at) AS once ORDER BY created_at
  RETURNING lane
)
SELECT count(*)::int AS requeued, (count(*) FILTER (WHERE lane = 'billing'))::int AS billing FROM ins`,
    [reasons ?? null, eids ?? null],
  );
  const row = rows[0] as { requeued?: number; billing?: number } | undefined;
  return { requeued: row?.requeued ?? 0, billing: row?.billing ?? 0 };
}

function textList(name: string, value: readonly string[] | undefined): string[] | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string' || v.length === 0)) {
    throw new InvalidOptionError(name, 'must be an array of non-empty strings');
  }
  return [...value];
}
