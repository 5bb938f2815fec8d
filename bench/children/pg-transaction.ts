/**
 * P2 of bench/postgres.ts: what a billing event adds to a user's transaction. One `pg` client runs
 * `BEGIN; INSERT INTO charges ...; COMMIT` (plain) and the same with
 * `await tracker.inTransaction(client).trackBillingEvent(...)` before the COMMIT (billed): one more
 * statement, the outbox INSERT, and its NOTIFY at commit. Blocks of each alternate; per block, wall
 * µs per transaction and the process's CPU µs per transaction, and in billed blocks the billing
 * statement's own round trip. The store's send loop is not started.
 */
import { Emitter, Tracker } from 'nestjs-snowplow/core';
import { main, params, report } from '../support/child';
import { cpuNow, PgTarget, silentLogger, timedPool } from '../support/pg';
import { APP_ID } from '../support/subjects';

interface Params extends PgTarget {
  perBlock: number;
  blocks: number;
  warmup: number;
  deadEndpoint: string;
}

const BILL = { category: 'ci', eventType: 'ci_minutes', realm: 'SaaS', unitOfMeasure: 'minute', quantity: 2 } as const;

interface Block {
  billed: boolean;
  usPerTx: number;
  cpuUsPerTx: number;
  /** Billed blocks: the `trackBillingEvent` call in the transaction, until its row is written. */
  usPerBillingStatement: number;
  /** The COMMIT statement's round trip. */
  usPerCommit: number;
}

main(async () => {
  const p = params<Params>();
  const timed = await timedPool(p.url, 1);
  const emitter = new Emitter({
    collectorUrl: p.deadEndpoint,
    storage: { type: 'postgres', pool: timed.store, schema: p.schema, table: p.table },
    logger: silentLogger,
  });
  const tracker = new Tracker({ appId: APP_ID, emitter });
  const client = await timed.pool.connect();
  // The transaction as `inTransaction` sees it (`{ query }`), counting the statements it sends.
  let billingStatements = 0;
  const tx = {
    query: (sql: string, values?: unknown[]) => {
      billingStatements++;
      return client.query(sql, values);
    },
  };
  const charges = `"${p.schema}".charges`;
  let billedRows = 0;

  const transactions = async (n: number, billed: boolean): Promise<Block> => {
    let billingUs = 0;
    let commitUs = 0;
    const cpu = cpuNow();
    const started = performance.now();
    for (let i = 0; i < n; i++) {
      await client.query('BEGIN');
      await client.query(`INSERT INTO ${charges} (customer, cents) VALUES ($1, $2)`, [i % 97, 1_250]);
      if (billed) {
        const t = performance.now();
        await tracker.inTransaction(tx).trackBillingEvent(BILL);
        billingUs += (performance.now() - t) * 1000;
        billedRows++;
      }
      const c = performance.now();
      await client.query('COMMIT');
      commitUs += (performance.now() - c) * 1000;
    }
    const us = (performance.now() - started) * 1000;
    return {
      billed,
      usPerTx: us / n,
      cpuUsPerTx: (cpuNow() - cpu) / n,
      usPerBillingStatement: billed ? billingUs / n : 0,
      usPerCommit: commitUs / n,
    };
  };

  await transactions(p.warmup, false);
  await transactions(p.warmup, true);
  const blocks: Block[] = [];
  for (let b = 0; b < p.blocks; b++) {
    // Alternating, the first variant swapped every other round.
    const order = b % 2 === 0 ? [false, true] : [true, false];
    for (const billed of order) blocks.push(await transactions(p.perBlock, billed));
  }
  const { rows } = await client.query<{ n: number }>(`SELECT count(*)::int AS n FROM "${p.schema}"."${p.table}"`);
  client.release();
  await emitter.stop();
  await timed.pool.end();
  await report({ type: 'result', blocks, outboxRows: rows[0].n, billedRows, billingStatements });
});
