// Billing inside the business transaction: 1,000 transactions on real pg clients, each inserting a
// business row (a charge) and its billing event in the same transaction; half of them roll back
// (an explicit ROLLBACK, or a failing statement after the event's INSERT). A relay sends from the
// same table meanwhile. Exactly the committed ones arrive at the collector, none of the rolled back.
// The event is written with `tracker.inTransaction(client)`, the tracker's own emitter relaying.
import { PoolClient } from 'pg';
import { Emitter, PostgresStorage, Tracker } from '../../lib/core';
import { LocalCollector, startLocalCollector } from '../../lib/testing/local-collector';
import { quietLogger } from '../support/emitter-harness';
import { rows, usePostgres } from '../support/postgres';
import { waitFor } from '../support/wait-for';

const pg = usePostgres('transactions');
const TRANSACTIONS = 1_000;
/** Business transactions running at once, each on its own client. */
const CLIENTS = 8;

let collector: LocalCollector;
let emitter: Emitter;
beforeAll(async () => {
  await PostgresStorage.migrate(pg.pool, { schema: pg.schema });
  await pg.pool.query(
    `CREATE TABLE "${pg.schema}".charges (id int PRIMARY KEY, amount int NOT NULL, event_id uuid NOT NULL UNIQUE)`,
  );
});
afterAll(async () => {
  await emitter?.stop();
  await collector?.close();
});

it('1,000 business transactions, half rolled back: exactly the committed billing events arrive', async () => {
  const started = Date.now();
  collector = await startLocalCollector();
  // The app's emitter on its PostgreSQL outbox: it relays from the table while the transactions run.
  emitter = new Emitter({
    collectorUrl: collector.endpoint,
    storage: { type: 'postgres', pool: pg.pool, schema: pg.schema, leaseMs: 3_000, pollIntervalMs: 200 },
    requestTimeoutMs: 1_000,
    logger: quietLogger,
  });
  emitter.start();
  const tracker = new Tracker({ appId: 'shop', emitter });

  const outcome = new Map<string, 'committed' | 'rolled back'>();
  const charge = async (client: PoolClient, id: number): Promise<void> => {
    await client.query('BEGIN');
    let eventId: string | undefined;
    try {
      // The billing event first, then the charge that names it: both in the transaction.
      ({ eventId } = await tracker
        .inTransaction(client)
        .trackBillingEventWithOptionalInput(
          { category: 'shop', eventType: 'charge', realm: 'SaaS', unitOfMeasure: 'cent', quantity: id + 1 },
          { projectId: id + 1 },
        ));
      await client.query(`INSERT INTO "${pg.schema}".charges (id, amount, event_id) VALUES ($1, $2, $3)`, [
        id,
        id + 1,
        eventId,
      ]);
      if (id % 4 === 1) {
        await client.query('ROLLBACK');
        outcome.set(eventId, 'rolled back');
        return;
      }
      // A statement failing after the event's INSERT aborts the whole transaction: the charge's id again.
      if (id % 4 === 3)
        await client.query(
          `INSERT INTO "${pg.schema}".charges (id, amount, event_id) VALUES ($1, 0, gen_random_uuid())`,
          [id],
        );
      await client.query('COMMIT');
      outcome.set(eventId, 'committed');
    } catch (err) {
      await client.query('ROLLBACK');
      if (id % 4 !== 3 || eventId === undefined) throw err;
      expect((err as { code?: string }).code).toBe('23505'); // unique_violation
      outcome.set(eventId, 'rolled back');
    }
  };

  let next = 0;
  await Promise.all(
    Array.from({ length: CLIENTS }, async () => {
      const client = await pg.pool.connect();
      try {
        while (next < TRANSACTIONS) await charge(client, next++);
      } finally {
        client.release();
      }
    }),
  );
  const committed = [...outcome].filter(([, o]) => o === 'committed').map(([eventId]) => eventId);
  const rolledBack = [...outcome].filter(([, o]) => o === 'rolled back').map(([eventId]) => eventId);
  expect(committed).toHaveLength(TRANSACTIONS / 2);
  expect(rolledBack).toHaveLength(TRANSACTIONS / 2);
  // The business table agrees: the committed charges, and only them.
  const charges = await rows<{ event_id: string }>(pg.pool, `SELECT event_id::text FROM "${pg.schema}".charges`);
  expect(new Set(charges.map((c) => c.event_id))).toEqual(new Set(committed));

  // The relay empties the table; then what arrived is final: the table was the only way out.
  const outbox = `"${pg.schema}".snowplow_outbox`;
  await waitFor(
    async () =>
      new Set(collector.events().map((e) => e.se_la)).size >= committed.length &&
      (await rows<{ n: number }>(pg.pool, `SELECT count(*)::int AS n FROM ${outbox}`))[0].n === 0,
    { timeoutMs: 30_000, what: 'the committed billing events at the collector and an empty outbox' },
  );
  expect((await emitter.drain(10_000)).drained).toBe(true);
  const arrived = collector.events().map((e) => e.se_la as string);
  expect(arrived.sort()).toEqual([...committed].sort()); // each once, none of the rolled back
  expect(collector.bad()).toEqual([]);
  const dead = await rows(pg.pool, `SELECT eid FROM "${pg.schema}".snowplow_outbox_dead`);
  expect(dead).toEqual([]);
  process.stdout.write(
    `transactions: ${committed.length} committed, ${rolledBack.length} rolled back, ` +
      `${arrived.length} arrived in ${Date.now() - started} ms\n`,
  );
}, 90_000);
