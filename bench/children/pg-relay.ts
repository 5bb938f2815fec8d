/**
 * A relay of bench/postgres.ts (P3, P4): an `Emitter` on the shared outbox (or on a SQLite file),
 * sending to the bench collector. It builds everything, warms its pool, says `ready`, starts the
 * send loop on `go` and stops on `stop`, then reports what it sent, its CPU time from `go` and the
 * store's statements (count, summed wall time, rows) by kind.
 */
import { Emitter } from 'nestjs-snowplow/core';
import { main, params, receive, report } from '../support/child';
import { cpuNow, PgTarget, silentLogger, timedPool } from '../support/pg';

interface Params extends PgTarget {
  store: 'postgres' | 'sqlite';
  sqlitePath: string;
  endpoint: string;
  /** Emitter options under test (e.g. `lingerMs`). */
  emitterOptions?: Record<string, unknown>;
}

main(async () => {
  const p = params<Params>();
  const timed = p.store === 'postgres' ? await timedPool(p.url) : undefined;
  const emitter = new Emitter({
    collectorUrl: p.endpoint,
    storage: timed
      ? { type: 'postgres', pool: timed.store, schema: p.schema, table: p.table, capacity: 1_000_000 }
      : { type: 'sqlite', path: p.sqlitePath, capacity: 1_000_000 },
    logger: silentLogger,
    ...p.emitterOptions,
  });
  const go = receive('go');
  await report({ type: 'ready' });
  await go;
  const stop = receive('stop');
  const cpu = cpuNow();
  emitter.start();
  await stop;
  const cpuUs = cpuNow() - cpu;
  // After stop: the last batches' acks (the loop ends once they are done) are counted.
  await emitter.stop();
  const stats = emitter.stats();
  await timed?.pool.end();
  await report({
    type: 'result',
    sent: stats.sent,
    dropped: stats.dropped,
    cpuUs,
    statements: timed?.stats ?? {},
  });
});
