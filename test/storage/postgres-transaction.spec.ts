// Tracking inside the caller's transaction (Tracker.inTransaction) with the real packages: a pg
// client inside BEGIN, a Knex transaction, a TypeORM EntityManager and QueryRunner, and a
// function adapter. A committed transaction's events arrive at the collector, a rolled-back one's
// never exist; errors are typed.
import { DataSource } from 'typeorm';
import knexFactory, { Knex } from 'knex';
import {
  Emitter,
  InvalidOptionError,
  migratePostgresOutbox,
  StorageError,
  Tracker,
  TransactionLike,
} from '../../lib/core';
import { LocalCollector, startLocalCollector } from '../../lib/testing/local-collector';
import { rows, usePostgres } from '../support/postgres';
import { waitFor } from '../support/wait-for';

const pg = usePostgres('tx');
const USAGE = { category: 'ci', eventType: 'minutes', realm: 'SaaS' as const, unitOfMeasure: 'minute', quantity: 3 };

let collector: LocalCollector;
let emitter: Emitter;
let tracker: Tracker;
let table = 0;
let outbox: string;
let charges: string;

beforeEach(async () => {
  collector = await startLocalCollector();
  const t = `tx_outbox_${++table}`;
  outbox = `"${pg.schema}"."${t}"`;
  charges = `"${pg.schema}"."charges_${table}"`;
  await migratePostgresOutbox(pg.pool, { schema: pg.schema, table: t });
  await pg.pool.query(`CREATE TABLE ${charges} (id serial PRIMARY KEY, customer text NOT NULL, eid uuid)`);
  emitter = new Emitter({
    collectorUrl: collector.endpoint,
    storage: { type: 'postgres', pool: pg.pool, schema: pg.schema, table: t },
    lingerMs: 0,
    logger: { log: () => undefined, warn: () => undefined, error: () => undefined },
  });
  tracker = new Tracker({ appId: 'tx', emitter });
});
afterEach(async () => {
  await emitter.stop();
  await collector.close();
});

const outboxEids = async () =>
  (await rows<{ eid: string }>(pg.pool, `SELECT eid::text FROM ${outbox}`)).map((r) => r.eid);

describe('inTransaction with a pg client inside BEGIN', () => {
  it('the billing event is in the outbox only once the transaction commits, and then arrives', async () => {
    const client = await pg.pool.connect();
    try {
      await client.query('BEGIN');
      await client.query(`INSERT INTO ${charges} (customer) VALUES ('acme')`);
      const result = await tracker.inTransaction(client).trackBillingEvent(USAGE);
      expect(result).toMatchObject({ eid: expect.any(String), eventId: expect.any(String) });
      await expect(result.committed).resolves.toEqual({ durable: true });
      // Not visible outside the transaction yet.
      expect(await outboxEids()).toEqual([]);
      await client.query('COMMIT');
      expect(await outboxEids()).toEqual([result.eid]);
      emitter.start();
      const [event] = await collector.waitForEvents(1);
      expect(event.eid).toBe(result.eid);
      expect(event.se_la).toBe(result.eventId);
    } finally {
      client.release();
    }
  });

  it('a rollback leaves no event: nothing in the outbox, nothing at the collector', async () => {
    const client = await pg.pool.connect();
    let rolledBack: string;
    try {
      await client.query('BEGIN');
      rolledBack = (await tracker.inTransaction(client).trackBillingEvent(USAGE)).eid;
      await tracker.inTransaction(client).trackEvent('charge_attempted', { customer: 'acme' });
      await client.query('ROLLBACK');
    } finally {
      client.release();
    }
    const kept = tracker.trackEvent('after');
    await kept.committed;
    emitter.start();
    await collector.waitForEvents(1);
    await emitter.drain(10_000);
    expect(collector.events().map((e) => e.eid)).toEqual([kept.eid]);
    expect(collector.events().map((e) => e.eid)).not.toContain(rolledBack);
    expect(await outboxEids()).toEqual([]);
  });

  it('a statement that fails in the transaction rejects with a StorageError carrying the cause', async () => {
    const client = await pg.pool.connect();
    try {
      await client.query('BEGIN');
      await client.query('SELECT 1/0').catch(() => undefined); // the transaction is now aborted
      const failed = tracker.inTransaction(client).trackBillingEvent(USAGE);
      await expect(failed).rejects.toBeInstanceOf(StorageError);
      await expect(failed).rejects.toMatchObject({
        code: 'STORAGE_TRANSACTION_FAILED',
        message: expect.stringMatching(/in the caller's transaction: current transaction is aborted/),
        cause: expect.objectContaining({ code: '25P02' }),
      });
      await client.query('ROLLBACK');
    } finally {
      client.release();
    }
  });

  it('invalid input rejects with the typed error, and nothing is written', async () => {
    const client = await pg.pool.connect();
    try {
      await client.query('BEGIN');
      await expect(tracker.inTransaction(client).trackEvent('')).rejects.toMatchObject({ code: 'INVALID_EVENT' });
      await client.query('COMMIT');
    } finally {
      client.release();
    }
    expect(await outboxEids()).toEqual([]);
  });
});

describe('inTransaction with Knex, TypeORM and a function', () => {
  let knex: Knex;
  let dataSource: DataSource;

  beforeEach(async () => {
    knex = knexFactory({ client: 'pg', connection: pg.url, pool: { min: 0, max: 2 } });
    dataSource = new DataSource({ type: 'postgres', url: pg.url, schema: pg.schema, poolSize: 2 });
    await dataSource.initialize();
  });
  afterEach(async () => {
    await knex.destroy();
    await dataSource.destroy();
  });

  it('a Knex transaction: committed events arrive, rolled-back ones never exist', async () => {
    const committed = await knex.transaction(async (trx) => {
      await trx.raw(`INSERT INTO ${charges} (customer) VALUES (?)`, ['acme']);
      return (await tracker.inTransaction(trx).trackBillingEvent(USAGE)).eid;
    });
    const rolledBack = await knex
      .transaction(async (trx) => {
        await tracker.inTransaction(trx).trackBillingEvent(USAGE);
        throw new Error('business rule failed');
      })
      .catch((err: Error) => err.message);
    expect(rolledBack).toBe('business rule failed');
    expect(await outboxEids()).toEqual([committed]);
    emitter.start();
    await collector.waitForEvents(1);
    await emitter.drain(10_000);
    expect(collector.events().map((e) => e.eid)).toEqual([committed]);
  });

  it('a TypeORM EntityManager in transaction() and a QueryRunner: each commit arrives, the rollback does not', async () => {
    const viaManager = await dataSource.transaction(async (manager) => {
      await manager.query(`INSERT INTO ${charges} (customer) VALUES ($1)`, ['acme']);
      return (await tracker.inTransaction(manager).trackBillingEvent(USAGE)).eid;
    });
    const runner = dataSource.createQueryRunner();
    await runner.connect();
    await runner.startTransaction();
    const viaRunner = (await tracker.inTransaction(runner).trackEvent('charged', { customer: 'acme' })).eid;
    await runner.commitTransaction();
    await runner.startTransaction();
    const rolledBack = (await tracker.inTransaction(runner).trackBillingEvent(USAGE)).eid;
    await runner.rollbackTransaction();
    await runner.release();
    expect((await outboxEids()).sort()).toEqual([viaManager, viaRunner].sort());
    emitter.start();
    await collector.waitForEvents(2);
    await emitter.drain(10_000);
    const arrived = collector.events().map((e) => e.eid);
    expect(arrived.sort()).toEqual([viaManager, viaRunner].sort());
    expect(arrived).not.toContain(rolledBack);
  });

  it('a function adapter (sql, params) => Promise, as for Prisma, Kysely, Drizzle or MikroORM', async () => {
    const client = await pg.pool.connect();
    const statements: string[] = [];
    try {
      await client.query('BEGIN');
      const exec: TransactionLike = (sql, params) => {
        statements.push(sql);
        return client.query(sql, params);
      };
      const { eid } = await tracker.inTransaction(exec).trackBillingEvent(USAGE);
      await client.query('COMMIT');
      expect(statements).toHaveLength(1);
      expect(statements[0]).toMatch(/INSERT INTO/);
      expect(await outboxEids()).toEqual([eid]);
    } finally {
      client.release();
    }
  });
});

describe('inTransaction refuses what cannot work', () => {
  it('a store that cannot write in a transaction (memory): a StorageError naming the PostgreSQL store', () => {
    const memory = new Tracker({ appId: 'tx', emitter: new Emitter({ collectorUrl: collector.endpoint }) });
    expect(() => memory.inTransaction(() => Promise.resolve())).toThrow(
      expect.objectContaining({
        code: 'STORAGE_NO_TRANSACTIONS',
        message: expect.stringContaining("inTransaction needs the PostgreSQL store (storage: { type: 'postgres' })"),
      }),
    );
  });

  it('something that is not a transaction: InvalidOptionError naming tx', () => {
    expect(() => tracker.inTransaction({} as TransactionLike)).toThrow(InvalidOptionError);
    expect(() => tracker.inTransaction(42 as unknown as TransactionLike)).toThrow(/Invalid Snowplow option "tx"/);
  });

  it('after stop(): the method rejects with EmitterStoppedError', async () => {
    const client = await pg.pool.connect();
    try {
      const inTx = tracker.inTransaction(client);
      await emitter.stop();
      await expect(inTx.trackBillingEvent(USAGE)).rejects.toMatchObject({ code: 'EMITTER_STOPPED' });
    } finally {
      client.release();
    }
  });
});

it("an event committed through the caller's transaction while the relay idles is woken by NOTIFY and arrives", async () => {
  emitter.start();
  const client = await pg.pool.connect();
  try {
    await client.query('BEGIN');
    const { eid } = await tracker.inTransaction(client).trackBillingEvent(USAGE);
    await client.query('COMMIT');
    await waitFor(() => collector.events().some((e) => e.eid === eid), {
      what: 'the committed event at the collector',
    });
  } finally {
    client.release();
  }
});
