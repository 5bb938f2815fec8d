// Tracking inside the caller's transaction (Tracker.inTransaction) with a real pg client: the event
// is a row of the outbox written in the caller's transaction, sent once it commits; a rollback
// leaves no event.
import { knex as createKnex } from 'knex';
import { PoolClient } from 'pg';
import { Emitter, migratePostgresOutbox, Tracker } from '../../lib/core';
import { LocalCollector, startLocalCollector } from '../../lib/testing/local-collector';
import { rows, usePostgres } from '../support/postgres';

const pg = usePostgres('tx');
// A table per test: a test's emitter never sees another's rows.
const names = { schema: '', table: '' };
let tables = 0;
const outbox = () => `"${names.schema}"."${names.table}"`;
let collector: LocalCollector;
let emitter: Emitter;
let tracker: Tracker;
let client: PoolClient;
const input = { category: 'ci', eventType: 'minutes', realm: 'SaaS', unitOfMeasure: 'minute', quantity: 2 } as const;

beforeAll(async () => {
  names.schema = pg.schema;
  await pg.pool.query(`CREATE TABLE "${pg.schema}".charges (id serial PRIMARY KEY, event_id uuid NOT NULL)`);
});
beforeEach(async () => {
  names.table = `outbox_${++tables}`;
  await migratePostgresOutbox(pg.pool, names);
  collector = await startLocalCollector();
  emitter = new Emitter({
    collectorUrl: collector.endpoint,
    storage: { type: 'postgres', pool: pg.pool, ...names },
    logger: { warn: () => undefined, error: () => undefined },
  });
  emitter.start();
  tracker = new Tracker({ appId: 'tx', emitter });
  client = await pg.pool.connect();
});
afterEach(async () => {
  client.release();
  await emitter.stop();
  await collector.close();
});

describe('tracker.inTransaction(tx)', () => {
  it('100 business transactions, half rolled back: exactly the committed ones arrive, with their charges', async () => {
    const committed: string[] = [];
    const rolledBack: string[] = [];
    for (let i = 0; i < 100; i++) {
      await client.query('BEGIN');
      const result = await tracker.inTransaction(client).trackBillingEvent(input);
      expect(result.committed).toBeInstanceOf(Promise);
      await client.query(`INSERT INTO "${pg.schema}".charges (event_id) VALUES ($1)`, [result.eventId]);
      if (i % 2 === 0) {
        await client.query('COMMIT');
        committed.push(result.eid);
      } else {
        await client.query('ROLLBACK');
        rolledBack.push(result.eid);
      }
    }
    await collector.waitForEvents(50);
    await emitter.drain(20_000);
    const delivered = collector.events().map((e) => e.eid);
    expect([...delivered].sort()).toEqual([...committed].sort());
    // Each delivered bill matches a charge that committed with it.
    const charges = await rows<{ n: number }>(pg.pool, `SELECT count(*)::int AS n FROM "${pg.schema}".charges`);
    expect(charges).toEqual([{ n: 50 }]);
    expect(await rows(pg.pool, `SELECT * FROM ${outbox()}`)).toEqual([]);
  });

  it('a row written in the transaction is invisible to the relays until COMMIT', async () => {
    await client.query('BEGIN');
    const { eid } = await tracker.inTransaction(client).trackEvent('in_tx', { n: 1 });
    const outside = await rows(pg.pool, `SELECT eid FROM ${outbox()}`);
    expect(outside).toEqual([]);
    await client.query('COMMIT');
    // The NOTIFY of the commit wakes the relay: no poll needed (the poll interval is 5 s).
    const [event] = await collector.waitForEvents(1, 4_000);
    expect(event.eid).toBe(eid);
  });

  it('an executor function and a Knex transaction (`?` placeholders) work too', async () => {
    await client.query('BEGIN');
    const viaFunction = await tracker
      .inTransaction((sql, params) => client.query(sql, params))
      .trackBillingEventWithOptionalInput(input, { projectId: 7 });
    await client.query('COMMIT');
    const knex = createKnex({ client: 'pg', connection: pg.url, pool: { min: 0, max: 1 } });
    try {
      const viaKnex = await knex.transaction((trx) => tracker.inTransaction(trx).trackBillingEvent(input));
      await collector.waitForEvents(2);
      expect(
        collector
          .events()
          .map((e) => e.eid)
          .sort(),
      ).toEqual([viaFunction.eid, viaKnex.eid].sort());
    } finally {
      await knex.destroy();
    }
  });

  it('bad input rejects naming the field; nothing is written, and the transaction can go on', async () => {
    await client.query('BEGIN');
    await expect(
      tracker.inTransaction(client).trackBillingEvent({ ...input, quantity: Number.NaN }),
    ).rejects.toMatchObject({ code: 'INVALID_EVENT', field: 'quantity' });
    await client.query('COMMIT');
    expect(await rows(pg.pool, `SELECT * FROM ${outbox()}`)).toEqual([]);
  });

  it('with another store, or a tx that is none, it is refused with InvalidOptionError', async () => {
    const memory = new Emitter({ collectorUrl: collector.endpoint });
    try {
      await expect(
        new Tracker({ appId: 'm', emitter: memory }).inTransaction(client).trackEvent('x'),
      ).rejects.toMatchObject({
        code: 'INVALID_OPTION',
        option: 'storage',
      });
    } finally {
      await memory.stop();
    }
    expect(() => tracker.inTransaction({} as never)).toThrow(expect.objectContaining({ option: 'tx' }));
  });
});
