// A PostgreSQL connection string holds the database password: it never shows in the resolved
// options, toJSON, inspect, stats() or the log lines of a run (the server here trusts every
// password, so the store connects with it and works).
import { inspect } from 'node:util';
import { Emitter, migratePostgresOutbox, Tracker } from '../../lib/core';
import { LocalCollector, startLocalCollector } from '../../lib/testing/local-collector';
import { usePostgres } from '../support/postgres';

const pg = usePostgres('secrets');
const PASSWORD = 'S3cret-Db-Pa55word';

it('the connection string password is masked everywhere the emitter shows its options', async () => {
  const names = { schema: pg.schema, table: 'outbox' };
  await migratePostgresOutbox(pg.pool, names);
  const collector: LocalCollector = await startLocalCollector();
  const url = new URL(pg.url);
  url.username = 'postgres';
  url.password = PASSWORD;
  url.searchParams.set('application_name', 'billing-api');
  const lines: string[] = [];
  const log = (m: string) => void lines.push(m);
  const emitter = new Emitter({
    collectorUrl: collector.endpoint,
    storage: { type: 'postgres', connectionString: url.toString(), ...names },
    lingerMs: 0,
    logger: { log, warn: log, error: log },
  });
  try {
    const tracker = new Tracker({ appId: 'secrets', emitter });
    emitter.start();
    const { eid, committed } = tracker.trackBillingEvent({
      category: 'ci',
      eventType: 'minutes',
      realm: 'SaaS',
      unitOfMeasure: 'minute',
      quantity: 1,
    });
    await committed;
    await collector.waitForEvents(1);
    expect(collector.events()[0].eid).toBe(eid);
    const shown = [
      JSON.stringify(emitter.options),
      JSON.stringify(emitter),
      inspect(emitter, { depth: 8 }),
      inspect(emitter.options, { depth: 8 }),
      String(emitter),
      JSON.stringify(emitter.stats()),
    ];
    await emitter.stop();
    shown.push(...lines);
    for (const text of shown) expect(text).not.toContain(PASSWORD);
    expect(JSON.stringify(emitter.options)).toContain('postgres://***:***@127.0.0.1:5432/test?application_name=***');
  } finally {
    await emitter.stop();
    await collector.close();
  }
});
