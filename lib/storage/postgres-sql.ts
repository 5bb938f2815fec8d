import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { InvalidEventError, InvalidOptionError } from '../errors';
import { bodyBytes } from '../tracker/payload';
import { checkBoolean, checkInteger, checkPositiveInteger, checkText } from '../validation';
import { kindOf } from './event-storage.interface';
import type { PostgresPool } from './postgres-io';
import { QueuedEvent } from './queued-event';
import { DEFAULT_CAPACITY } from './ring-buffer.storage';

/** Where the outbox lives: `schema` (default `public`) and `table` (default `snowplow_outbox`). */
export interface PostgresOutboxNames {
  /** Default `public`. Letters, digits and `_`, starting with a letter or `_`. */
  schema?: string;
  /** Default `snowplow_outbox`; the dead-letter table is `<table>_dead`. Letters, digits and `_`. */
  table?: string;
}

/** The quoted names of every object of one outbox, and its NOTIFY channel. */
export interface OutboxNames {
  schema: string;
  table: string;
  /** `"schema"."table"`. */
  outbox: string;
  /** `"schema"."table_dead"`. */
  dead: string;
  /** The custom lane's sequence, as `nextval` takes it: `"schema"."table_lane_seq"`. */
  laneSeq: string;
  /** `schema.table`: the NOTIFY channel, and the store's `location`. */
  channel: string;
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** PostgreSQL cuts identifiers (and channel names) at 63 bytes. */
const MAX_IDENTIFIER = 63;

/** The names checked (each error names the option) and quoted. */
export function outboxNames(options: PostgresOutboxNames = {}, prefix = 'storage'): OutboxNames {
  const schema = options.schema ?? 'public';
  const table = options.table ?? 'snowplow_outbox';
  for (const [option, value] of [
    ['schema', schema],
    ['table', table],
  ] as const) {
    if (typeof value !== 'string' || !IDENTIFIER.test(value)) {
      throw new InvalidOptionError(
        `${prefix}.${option}`,
        'must be a PostgreSQL name of letters, digits and _ (starting with a letter or _)',
      );
    }
  }
  // The longest name derived from them: the channel "schema.table", and "table_lane_seq".
  if (schema.length + 1 + table.length > MAX_IDENTIFIER || `${table}_lane_seq`.length > MAX_IDENTIFIER) {
    throw new InvalidOptionError(
      `${prefix}.table`,
      `"${schema}.${table}" is too long: schema and table together must stay within 62 characters, and table within 54`,
    );
  }
  const q = (name: string) => `"${schema}"."${name}"`;
  return {
    schema,
    table,
    outbox: q(table),
    dead: q(`${table}_dead`),
    laneSeq: q(`${table}_lane_seq`),
    channel: `${schema}.${table}`,
  };
}

/**
 * The outbox's DDL: the table (both lanes), its indexes, the custom lane's sequence, the trigger
 * that NOTIFYs the relays on every committed INSERT (ours and users' own), and the dead-letter
 * table. Idempotent: safe to run at every start. Copy it into your own migrations (TypeORM,
 * Prisma, Knex), or run it with `migratePostgresOutbox()` or `createTable: true`.
 *
 * No index covers the lease columns, and pages keep 20 % free (`fillfactor = 80`): leasing and
 * releasing a row is then a heap-only (HOT) update, on its page and with no index entry, instead of a
 * copy of the row and its payload into every index. (Releasing all of an instance's leases, at stop,
 * scans the table: it happens once.)
 *
 * The `payload` column holds one Snowplow `payload_data` item, without `stm`, as JSON text: that
 * form is the table's contract with your migrations, and does not change when event types are added.
 */
export function postgresOutboxDdl(options: PostgresOutboxNames = {}): string {
  const n = outboxNames(options, 'options');
  const s = `"${n.schema}"`;
  const t = n.table;
  // The public schema exists; creating it would need the CREATE privilege on the database.
  const createSchema = n.schema === 'public' ? '' : `CREATE SCHEMA IF NOT EXISTS ${s};\n`;
  return `${createSchema}CREATE SEQUENCE IF NOT EXISTS ${n.laneSeq};
CREATE TABLE IF NOT EXISTS ${n.outbox} (
  seq         bigserial   PRIMARY KEY,
  eid         uuid        NOT NULL UNIQUE,
  lane        text        NOT NULL CHECK (lane IN ('billing', 'custom')),
  lane_seq    bigint      NOT NULL DEFAULT nextval('${n.laneSeq}'),
  payload     json        NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  attempts    integer     NOT NULL DEFAULT 0,
  lease_owner text,
  lease_until timestamptz
) WITH (fillfactor = 80);
CREATE INDEX IF NOT EXISTS "${t}_ready" ON ${n.outbox} (lane, seq);
CREATE INDEX IF NOT EXISTS "${t}_custom" ON ${n.outbox} (lane_seq) WHERE lane = 'custom';
CREATE OR REPLACE FUNCTION ${s}."${t}_notify"() RETURNS trigger LANGUAGE plpgsql AS
  $$ BEGIN PERFORM pg_notify('${n.channel}', ''); RETURN NULL; END $$;
DROP TRIGGER IF EXISTS "${t}_notify" ON ${n.outbox};
CREATE TRIGGER "${t}_notify" AFTER INSERT ON ${n.outbox}
  FOR EACH STATEMENT EXECUTE FUNCTION ${s}."${t}_notify"();
CREATE TABLE IF NOT EXISTS ${n.dead} (
  LIKE ${n.outbox} INCLUDING DEFAULTS,
  reason      text        NOT NULL,
  status_code integer,
  error       text,
  dead_at     timestamptz NOT NULL DEFAULT now()
);
`;
}

/** What `migratePostgresOutbox` needs: a `pg.Pool` or `pg.Client` (anything with `query`). */
export interface PostgresQueryable {
  /** Runs SQL text (several statements, no parameters). */
  query(sql: string): Promise<unknown>;
}

/**
 * Creates the outbox (see `postgresOutboxDdl`) through `db`, a `pg.Pool` or `pg.Client`, in one
 * transaction, serialised with other instances doing the same by an advisory lock.
 */
export async function migratePostgresOutbox(db: PostgresQueryable, options: PostgresOutboxNames = {}): Promise<void> {
  if (!db || typeof (db as { query?: unknown }).query !== 'function') {
    throw new InvalidOptionError('db', 'must be a pg Pool or Client (an object with query)');
  }
  await db.query(migrationSql(options));
}

/**
 * The DDL behind an advisory lock: sent as one simple-protocol query (no parameters), its
 * statements run as one transaction, and the lock is held to its end.
 */
export function migrationSql(options: PostgresOutboxNames): string {
  const n = outboxNames(options, 'options');
  return `SELECT pg_advisory_xact_lock(hashtext('${n.channel}'));\n${postgresOutboxDdl(options)}`;
}

/** Every statement the store runs, for one outbox. Parameters are numbered `$n`. */
export interface OutboxSql {
  /** $1 eids, $2 lanes, $3 payloads, $4 attempts, $5 capacity: one row with `inserted` and `evicted`. */
  insert: string;
  /** $1 owner, $2 maxCount, $3 lease ms. */
  lease: string;
  /** $1 seqs, $2 owner. */
  ack: string;
  /** $1 seqs, $2 attempts, $3 owner. */
  release: string;
  /** $1 owner. */
  releaseAll: string;
  /** $1 seqs, $2 owner, $3 lease ms: the lease of rows this instance still holds, extended. */
  renew: string;
  /** $1 owner, $2 the seqs this instance still holds: its other leases (a lease whose answer was lost) go back. */
  releaseOrphans: string;
  /** $1 seqs, $2 attempts, $3 owner, $4 reason, $5 status code, $6 error. */
  deadLetter: string;
  /** One row: `total` and `waiting`. */
  count: string;
}

export function outboxSql(n: OutboxNames): OutboxSql {
  const t = n.outbox;
  const free = '(lease_until IS NULL OR lease_until < now())';
  return {
    // One statement, so one transaction: the rows, then the custom lane bounded to `capacity` across
    // the whole table by an index range on lane_seq (no count). A data-modifying CTE does not see the
    // rows its own statement inserts, so the caller never passes more custom rows than `capacity`.
    insert: `WITH ins AS (
  INSERT INTO ${t} (eid, lane, lane_seq, payload, attempts)
  SELECT e.eid, e.lane, CASE WHEN e.lane = 'custom' THEN nextval('${n.laneSeq}') ELSE 0 END, e.payload, e.attempts
  FROM unnest($1::uuid[], $2::text[], $3::json[], $4::int[]) AS e(eid, lane, payload, attempts)
  ON CONFLICT (eid) DO NOTHING
  RETURNING lane, lane_seq
), evicted AS (
  DELETE FROM ${t} WHERE lane = 'custom'
    AND lane_seq <= (SELECT max(lane_seq) FROM ins WHERE lane = 'custom') - $5::bigint
  RETURNING 1
)
SELECT (SELECT count(*) FROM ins WHERE lane = 'billing')::int AS billing,
  (SELECT count(*) FROM ins WHERE lane = 'custom')::int AS custom,
  (SELECT count(*) FROM evicted)::int AS evicted`,
    // Billing first, FIFO within a lane; rows another relay holds are skipped, not waited for.
    lease: `WITH b AS (
  SELECT seq FROM ${t} WHERE lane = 'billing' AND ${free} ORDER BY seq LIMIT $2 FOR UPDATE SKIP LOCKED
), c AS (
  SELECT seq FROM ${t} WHERE lane = 'custom' AND ${free} ORDER BY seq
  LIMIT greatest(0, $2 - (SELECT count(*) FROM b)) FOR UPDATE SKIP LOCKED
)
UPDATE ${t} AS t SET lease_owner = $1, lease_until = now() + $3 * interval '1 millisecond'
WHERE t.seq IN (SELECT seq FROM b UNION ALL SELECT seq FROM c)
RETURNING t.seq::text AS seq, t.eid::text AS eid, t.lane, t.payload::text AS payload, t.attempts,
  (extract(epoch FROM t.created_at) * 1000)::float8 AS created`,
    ack: `DELETE FROM ${t} WHERE seq = ANY($1::bigint[]) AND lease_owner = $2`,
    release: `UPDATE ${t} AS t SET attempts = u.attempts, lease_owner = NULL, lease_until = NULL
FROM unnest($1::bigint[], $2::int[]) AS u(seq, attempts) WHERE t.seq = u.seq AND t.lease_owner = $3`,
    renew: `UPDATE ${t} SET lease_until = now() + $3 * interval '1 millisecond'
WHERE seq = ANY($1::bigint[]) AND lease_owner = $2`,
    releaseAll: `UPDATE ${t} SET lease_owner = NULL, lease_until = NULL WHERE lease_owner = $1`,
    releaseOrphans: `UPDATE ${t} SET lease_owner = NULL, lease_until = NULL
WHERE lease_owner = $1 AND NOT (seq = ANY($2::bigint[]))`,
    // Moved in one statement: there is never a moment with no record of a given-up event.
    deadLetter: `WITH moved AS (
  DELETE FROM ${t} WHERE seq = ANY($1::bigint[]) AND lease_owner = $3 RETURNING *
)
INSERT INTO ${n.dead} (seq, eid, lane, lane_seq, payload, created_at, attempts, lease_owner, lease_until,
  reason, status_code, error)
SELECT m.seq, m.eid, m.lane, m.lane_seq, m.payload, m.created_at, u.attempts, m.lease_owner, m.lease_until,
  $4, $5, $6
FROM moved AS m JOIN unnest($1::bigint[], $2::int[]) AS u(seq, attempts) ON u.seq = m.seq`,
    count: `SELECT count(*)::int AS total, (count(*) FILTER (WHERE ${free}))::int AS waiting FROM ${t}`,
  };
}

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
  /** The longest one statement (and getting a connection for it) may take, ms. Default 10,000. */
  queryTimeoutMs?: number;
  /**
   * Most events tracked and not yet committed; past it a track call throws
   * `StorageBufferFullError`. Default 10,000.
   */
  maxBufferedEvents?: number;
  /** Who holds a lease. Default: host name, pid and a random part. */
  instanceId?: string;
}

/** The options checked (each error names the option), defaults filled in. The pool is the store's business. */
export function resolvePostgresOptions(options: PostgresStorageOptions) {
  const ms = (option: string, value: unknown, min: number, fallback: number) =>
    checkInteger(`storage.${option}`, value, { min, unit: 'ms' }, fallback);
  return {
    capacity: checkPositiveInteger('storage.capacity', options.capacity, DEFAULT_CAPACITY),
    leaseMs: ms('leaseMs', options.leaseMs, 1_000, 60_000),
    pollIntervalMs: ms('pollIntervalMs', options.pollIntervalMs, 10, 5_000),
    commitTimeoutMs: ms('commitTimeoutMs', options.commitTimeoutMs, 1, 30_000),
    queryTimeoutMs: ms('queryTimeoutMs', options.queryTimeoutMs, 1, 10_000),
    maxBuffered: checkPositiveInteger('storage.maxBufferedEvents', options.maxBufferedEvents, 10_000),
    createTable: checkBoolean('storage.createTable', options.createTable, false),
    instanceId:
      options.instanceId === undefined
        ? `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`
        : checkText('storage.instanceId', options.instanceId),
  };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const DTM = /"dtm":"(\d+)"/;

/** An event the store can write: a uuid eid (the table's key) and the payload text. */
export function checkEvent(event: QueuedEvent): void {
  if (event === null || typeof event !== 'object') throw new InvalidEventError('event', 'must be an object');
  if (typeof event.eid !== 'string' || !UUID.test(event.eid)) throw new InvalidEventError('eid', 'must be a uuid');
  if (typeof event.json !== 'string') throw new InvalidEventError('json', 'must be the payload text');
}

/** Leased rows: how many of `events` fit in `maxBytes` (at least one). */
export function fitting(events: readonly QueuedEvent[], maxBytes: number | undefined): number {
  if (maxBytes === undefined) return events.length;
  let bytes = 0;
  for (let i = 0; i < events.length; i++) {
    bytes += events[i].bytes;
    if (bytes > maxBytes && i > 0) return i;
  }
  return events.length;
}

export function rank(event: QueuedEvent): number {
  return kindOf(event) === 'billing' ? 0 : 1;
}

/** A leased row as the emitter's event; `dtm` from the payload, else the row's creation time. */
export function toEvent(row: Record<string, unknown>): QueuedEvent {
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
