/**
 * P3 of bench/postgres.ts: latency from a transaction's commit to the collector's 2xx, one event
 * at a time, with one idle relay (bench/children/pg-relay.ts, another process). This process writes
 * a billing event through its own transaction (`BEGIN; inTransaction(client).trackBillingEvent;
 * COMMIT`) and stamps the clock when it sends COMMIT and when COMMIT returns; the collector (a third
 * process) keeps when it answered the request that carried the eid, and this process waits for
 * that (a long poll), then idles `gapMs` so that the relay is idle again before the next event.
 * Both clocks are wall-clock ms (timeOrigin + performance.now()) on the same machine.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Emitter, Tracker } from 'nestjs-snowplow/core';
import { main, params, report } from '../support/child';
import { CollectorClient } from '../support/collector-client';
import { PgTarget, silentLogger, timedPool, wallNow } from '../support/pg';
import { APP_ID } from '../support/subjects';

interface Params extends PgTarget {
  collectorPort: number;
  deadEndpoint: string;
  events: number;
  warmup: number;
  gapMs: number;
}

const BILL = { category: 'ci', eventType: 'ci_minutes', realm: 'SaaS', unitOfMeasure: 'minute', quantity: 2 } as const;

main(async () => {
  const p = params<Params>();
  const timed = await timedPool(p.url, 1);
  const collector = new CollectorClient(p.collectorPort);
  // The writer's emitter never sends: the relay is the other process.
  const emitter = new Emitter({
    collectorUrl: p.deadEndpoint,
    storage: { type: 'postgres', pool: timed.store, schema: p.schema, table: p.table },
    logger: silentLogger,
  });
  const tracker = new Tracker({ appId: APP_ID, emitter });
  const client = await timed.pool.connect();
  const fromCommitSent: number[] = [];
  const fromCommitted: number[] = [];
  const commitMs: number[] = [];
  let missing = 0;
  for (let i = 0; i < p.warmup + p.events; i++) {
    await client.query('BEGIN');
    const { eid } = await tracker.inTransaction(client).trackBillingEvent(BILL);
    const commitSent = wallNow();
    await client.query('COMMIT');
    const committed = wallNow();
    let at: number;
    try {
      at = await collector.arrival(eid, 10_000);
    } catch {
      missing++;
      continue;
    }
    if (i >= p.warmup) {
      fromCommitSent.push(at - commitSent);
      fromCommitted.push(at - committed);
      commitMs.push(committed - commitSent);
    }
    await sleep(p.gapMs);
  }
  client.release();
  await emitter.stop();
  await timed.pool.end();
  await report({ type: 'result', fromCommitSent, fromCommitted, commitMs, missing });
});
