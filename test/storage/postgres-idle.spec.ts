// An idle relay on the PostgreSQL outbox looks at the table every pollIntervalMs, and reports
// nothing queued meanwhile (no phantom event in stats(), queueDepth or the gauge); a row another
// writer commits (here a hand-written INSERT, which the NOTIFY trigger announces) is still found
// and delivered.
import { Pool, PoolClient } from 'pg';
import { Emitter, migratePostgresOutbox } from '../../lib/core';
import { LocalCollector, startLocalCollector } from '../../lib/testing/local-collector';
import { usePostgres } from '../support/postgres';
import { waitFor } from '../support/wait-for';

const pg = usePostgres('idle');

it('an idle relay polls without reporting a phantom queued event, and finds rows others commit', async () => {
  const names = { schema: pg.schema, table: 'outbox' };
  await migratePostgresOutbox(pg.pool, names);
  const collector: LocalCollector = await startLocalCollector();
  // The store's own statements, counted on the pool it is given (the real pg Pool underneath).
  const pool = new Pool({ connectionString: pg.url, max: 2 });
  let leases = 0;
  const connect = pool.connect.bind(pool) as () => Promise<PoolClient>;
  (pool as unknown as { connect: () => Promise<PoolClient> }).connect = async () => {
    const client = await connect();
    const query = client.query.bind(client) as (sql: string, params?: unknown[]) => Promise<unknown>;
    (client as unknown as { query: typeof query }).query = (sql, params) => {
      if (/FOR UPDATE SKIP LOCKED/.test(sql)) leases++;
      return query(sql, params);
    };
    return client;
  };
  const emitter = new Emitter({
    collectorUrl: collector.endpoint,
    storage: { type: 'postgres', pool, ...names, pollIntervalMs: 30 },
    lingerMs: 0,
    logger: { log: () => undefined, warn: () => undefined, error: () => undefined },
  });
  try {
    emitter.start();
    const samples: number[] = [];
    const sample = () => samples.push(emitter.queueDepth, emitter.stats().queued, emitter.stats().custom.queued);
    // Sampled on every check until the relay has looked at the empty table several times.
    await waitFor(
      () => {
        sample();
        return leases >= 4;
      },
      { intervalMs: 5, what: 'four polls of the empty table' },
    );
    expect(new Set(samples)).toEqual(new Set([0]));

    // A row written by hand (a user's own INSERT): the trigger's NOTIFY wakes the relay.
    const eid = '7d3c1a52-8f0e-4c3b-9a61-0c2f5b1e9d47';
    const payload = JSON.stringify({ e: 'pv', eid, aid: 'manual', p: 'srv', tv: 'manual-1', dtm: String(Date.now()) });
    await pg.pool.query(
      `INSERT INTO "${names.schema}"."${names.table}" (eid, lane, payload) VALUES ($1, 'custom', $2)`,
      [eid, payload],
    );
    await waitFor(() => collector.events().some((e) => e.eid === eid), { what: 'the hand-written row delivered' });
    await waitFor(() => emitter.queueDepth === 0 && emitter.stats().inFlight === 0, { what: 'the queue empty again' });
  } finally {
    await emitter.stop();
    await pool.end();
    await collector.close();
  }
});

it("stats().table counts the whole shared table, other writers' rows included, refreshed once per poll", async () => {
  const names = { schema: pg.schema, table: 'counted' };
  await migratePostgresOutbox(pg.pool, names);
  const collector: LocalCollector = await startLocalCollector();
  collector.behaviour = () => ({ status: 503 }); // nothing leaves: the rows stay to be counted
  const emitter = new Emitter({
    collectorUrl: collector.endpoint,
    storage: { type: 'postgres', pool: pg.pool, ...names, pollIntervalMs: 30 },
    lingerMs: 0,
    backoff: { baseMs: 5, capMs: 20 },
    logger: { log: () => undefined, warn: () => undefined, error: () => undefined },
  });
  try {
    expect(emitter.stats().table).toBeUndefined(); // not counted yet
    emitter.start();
    await waitFor(() => emitter.stats().table?.total === 0, { what: 'the first count of the empty table' });
    const values = [0, 1, 2].map(
      (i) => `('${i}0000000-0000-4000-8000-000000000000', 'custom', '{"e":"pv","dtm":"1"}')`,
    );
    await pg.pool.query(
      `INSERT INTO "${names.schema}"."${names.table}" (eid, lane, payload) VALUES ${values.join(', ')}`,
    );
    const seen = await waitFor(() => (emitter.stats().table?.total === 3 ? emitter.stats().table : undefined), {
      what: 'the three rows counted',
    });
    expect(seen.countedAt).toBeGreaterThan(Date.now() - 10_000);
    expect(seen.waiting).toBeLessThanOrEqual(3);
  } finally {
    await emitter.stop();
    await collector.close();
  }
});
