// The outbox's DDL, three ways (the exported SQL, migratePostgresOutbox(), createTable: true), and
// the store's options, each refused with the option it names.
import { randomUUID } from 'node:crypto';
import {
  Emitter,
  migratePostgresOutbox,
  PostgresStorage,
  postgresOutboxDdl,
  PostgresStorageOptions,
} from '../../lib/core';
import { createStorage } from '../../lib/storage/create-storage';
import { bodyBytes } from '../../lib/tracker/payload';
import { rows, usePostgres } from '../support/postgres';

const pg = usePostgres('ddl');
const stores: PostgresStorage[] = [];
afterEach(async () => {
  for (const s of stores.splice(0)) await s.close().catch(() => undefined);
});

async function tablesOf(schema: string): Promise<string[]> {
  const found = await rows<{ table_name: string }>(
    pg.pool,
    'SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY table_name',
    [schema],
  );
  return found.map((r) => r.table_name);
}

function event(kind: 'billing' | 'custom' = 'billing') {
  const eid = randomUUID();
  const json = `{"e":"se","eid":"${eid}","dtm":"${Date.now()}"}`;
  return { kind, eid, dtm: Date.now(), json, bytes: bodyBytes(json), attempts: 0 };
}

describe('the DDL', () => {
  it('the exported SQL, run by hand twice, creates the outbox, its dead-letter table and the NOTIFY trigger', async () => {
    const ddl = postgresOutboxDdl({ schema: pg.schema, table: 'by_hand' });
    expect(ddl).toMatch(/payload\s+json\s+NOT NULL/);
    await pg.pool.query(ddl);
    await pg.pool.query(ddl); // idempotent: safe at every start
    expect(await tablesOf(pg.schema)).toEqual(expect.arrayContaining(['by_hand', 'by_hand_dead']));
    const triggers = await rows(
      pg.pool,
      'SELECT tgname FROM pg_trigger WHERE tgrelid = $1::regclass AND NOT tgisinternal',
      [`"${pg.schema}"."by_hand"`],
    );
    expect(triggers).toEqual([{ tgname: 'by_hand_notify' }]);
    // A user's own INSERT needs only eid, lane and payload (lane_seq and the rest have defaults).
    await pg.pool.query(`INSERT INTO "${pg.schema}"."by_hand" (eid, lane, payload) VALUES ($1, 'custom', '{}')`, [
      randomUUID(),
    ]);
    expect(await rows(pg.pool, `SELECT attempts, lease_owner FROM "${pg.schema}"."by_hand"`)).toEqual([
      { attempts: 0, lease_owner: null },
    ]);
  });

  it('migratePostgresOutbox creates it in a schema of its own, and several instances may run it at once', async () => {
    const schema = `${pg.schema}_m`;
    try {
      await Promise.all([1, 2, 3].map(() => migratePostgresOutbox(pg.pool, { schema })));
      expect(await tablesOf(schema)).toEqual(['snowplow_outbox', 'snowplow_outbox_dead']);
    } finally {
      await pg.pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    }
  });

  it('createTable: true creates it before the first write; without it, the table is not created', async () => {
    const created = new PostgresStorage({ pool: pg.pool, schema: pg.schema, table: 'at_start', createTable: true });
    stores.push(created);
    const e = event();
    created.add(e);
    await expect(created.lastCommit()).resolves.toEqual({ durable: true });
    expect(await rows(pg.pool, `SELECT eid::text FROM "${pg.schema}"."at_start"`)).toEqual([{ eid: e.eid }]);

    const notCreated = new PostgresStorage({ pool: pg.pool, schema: pg.schema, table: 'not_created' });
    stores.push(notCreated);
    await expect(notCreated.countAll()).rejects.toThrow(/does not exist/);
    expect(await tablesOf(pg.schema)).not.toContain('not_created');
  });
});

describe('options', () => {
  const base: PostgresStorageOptions = { pool: pg.pool as never };
  it.each<[Partial<PostgresStorageOptions> | Record<string, unknown>, string]>([
    [{ schema: 'bad-name' }, 'storage.schema'],
    [{ table: 'x; DROP TABLE y' }, 'storage.table'],
    [{ table: 'a'.repeat(60) }, 'storage.table'],
    [{ capacity: 0 }, 'storage.capacity'],
    [{ leaseMs: 10 }, 'storage.leaseMs'],
    [{ pollIntervalMs: 'often' }, 'storage.pollIntervalMs'],
    [{ commitTimeoutMs: -1 }, 'storage.commitTimeoutMs'],
    [{ maxBufferedEvents: 0 }, 'storage.maxBufferedEvents'],
    [{ createTable: 'yes' }, 'storage.createTable'],
    [{ instanceId: '' }, 'storage.instanceId'],
    [{ connectionString: 'postgres://x' }, 'storage.pool'],
    [{ pool: {} }, 'storage.pool'],
  ])('%j is refused, naming %s', (options, option) => {
    expect(() => new PostgresStorage({ ...base, pool: pg.pool, ...options } as PostgresStorageOptions)).toThrow(
      expect.objectContaining({ code: 'INVALID_OPTION', option }),
    );
  });

  it('neither a pool nor a connection string is refused, naming the connection string', () => {
    expect(() => new PostgresStorage({} as PostgresStorageOptions)).toThrow(
      expect.objectContaining({
        option: 'storage.connectionString',
        message: 'Invalid Snowplow option "storage.connectionString": is required, or a pg Pool as storage.pool',
      }),
    );
  });

  it("an unknown storage type names 'postgres' among the types", () => {
    expect(() => createStorage({ type: 'mysql' } as never, 10, 10)).toThrow(/'memory', 'sqlite' or 'postgres'/);
  });

  it('the emitter builds the store from its config, with an unbounded billing lane', async () => {
    const emitter = new Emitter({
      collectorUrl: 'http://127.0.0.1:9/com.snowplowanalytics.snowplow/tp2',
      storage: {
        type: 'postgres',
        connectionString: pg.url,
        schema: pg.schema,
        table: 'from_config',
        createTable: true,
      },
    });
    try {
      expect(emitter.stats().billing.capacity).toBe(Number.MAX_SAFE_INTEGER);
      expect(emitter.stats().capacity).toBe(10_000);
    } finally {
      await emitter.stop();
    }
  });
});
