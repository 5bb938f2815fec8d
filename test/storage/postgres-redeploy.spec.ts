// A Kubernetes-style redeploy: a pod is stopped (SIGTERM) while the collector is down, with events
// left in its outbox; its working directory (the pod's ephemeral disk) is thrown away; a new pod
// starts in a new directory. With PostgreSQL the new pod delivers every event the old one
// committed. With SQLite they are gone: the new pod finds nothing, and the old pod's stop log had
// named the file and said the events are lost if the disk does not outlive the process.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { migratePostgresOutbox } from '../../lib/core';
import { LocalCollector, startLocalCollector } from '../../lib/testing/local-collector';
import { rows, usePostgres } from '../support/postgres';
import { waitFor } from '../support/wait-for';
import { AppProcess, startApp } from './support/app-process';

const pg = usePostgres('redeploy');
const EVENTS = 1_000;
/** Every 10th event is a billing event. */
const BILLING = EVENTS / 10;

let work: string;
let collector: LocalCollector;
const apps: AppProcess[] = [];

beforeEach(async () => {
  work = mkdtempSync(join(tmpdir(), 'snowplow-redeploy-'));
  collector = await startLocalCollector();
});
afterEach(async () => {
  for (const app of apps.splice(0)) {
    app.child.kill('SIGKILL');
    await app.exited;
  }
  await collector.close();
  rmSync(work, { recursive: true, force: true });
});

function pod(store: 'postgres' | 'sqlite', name: string, events: number): { app: AppProcess; dir: string } {
  const dir = mkdtempSync(join(work, `${name}-`));
  const app = startApp(
    'redeploy-app.ts',
    {
      STORE: store,
      COLLECTOR_URL: collector.endpoint,
      PG_URL: pg.url,
      SCHEMA: pg.schema,
      EVENTS: String(events),
      BILLING_EVERY: '10',
      OUT: join(work, `${name}.eids`),
    },
    dir,
  );
  apps.push(app);
  return { app, dir };
}

/**
 * The old pod: tracks EVENTS events while the collector is down, is stopped with SIGTERM, and its
 * directory is deleted. Returns the eids it committed and its output.
 */
async function stopWithEventsLeft(
  store: 'postgres' | 'sqlite',
): Promise<{ committed: string[]; log: string; dir: string }> {
  await collector.close(); // down: connections are refused
  const old = pod(store, 'old', EVENTS);
  await old.app.waitForOutput('tracked');
  const committed = readFileSync(join(work, 'old.eids'), 'utf8').split('\n');
  expect(committed).toHaveLength(EVENTS);
  old.app.child.kill('SIGTERM');
  expect(await old.app.exited).toBe(0);
  rmSync(old.dir, { recursive: true, force: true });
  expect(existsSync(old.dir)).toBe(false);
  await collector.reopen();
  return { committed, log: old.app.output(), dir: old.dir };
}

it('PostgreSQL: a new pod in a new directory delivers every event the stopped pod left', async () => {
  await migratePostgresOutbox(pg.pool, { schema: pg.schema });
  const started = Date.now();
  const { committed, log } = await stopWithEventsLeft('postgres');
  // The stop log says they stay in the shared table, for another instance or the next start; none lost.
  expect(log).toContain(
    `LOG ${EVENTS} events are left in ${pg.schema}.snowplow_outbox for another instance or the next start`,
  );
  expect(log).not.toMatch(/lost|dropped/);
  expect(await outboxRows()).toBe(EVENTS);

  const next = pod('postgres', 'new', 0);
  await waitFor(() => new Set(collector.events().map((e) => e.eid)).size >= EVENTS, {
    timeoutMs: 30_000,
    what: `the new pod to deliver the ${EVENTS} events (have ${collector.events().length})`,
  });
  await waitFor(async () => (await outboxRows()) === 0, { what: 'an empty outbox' });
  const delivered = collector.events();
  expect(new Set(delivered.map((e) => e.eid))).toEqual(new Set(committed));
  expect(delivered.filter((e) => e.e === 'se')).toHaveLength(BILLING);
  // Sent by the new pod: the old one was gone before the collector came back.
  expect(collector.accepted().length).toBeGreaterThan(0);
  next.app.child.kill('SIGTERM');
  expect(await next.app.exited).toBe(0);
  process.stdout.write(`redeploy postgres: ${delivered.length} of ${EVENTS} delivered in ${Date.now() - started} ms\n`);
});

it('SQLite: the events go with the thrown-away directory; the stop log named the file and said so', async () => {
  const started = Date.now();
  const { committed, log, dir } = await stopWithEventsLeft('sqlite');
  expect(committed).toHaveLength(EVENTS);
  // The stop log names the file and says the events are lost if the disk does not outlive the process.
  expect(log).toContain(
    `WARN ${EVENTS} events (${BILLING} billing) are kept in the outbox ${join(dir, 'outbox.db')} for the next start; ` +
      'they are lost if this disk does not outlive the process',
  );

  // The new pod's own disk holds a new, empty outbox: it finds nothing and sends nothing.
  const next = pod('sqlite', 'new', 0);
  await next.app.waitForOutput('ready');
  expect(next.app.output()).toContain('ready 0\n');
  next.app.send('drain');
  await next.app.waitForOutput('drained');
  expect(JSON.parse(/drained (.*)\n/.exec(next.app.output())![1])).toEqual({ sent: 0, remaining: 0, drained: true });
  expect(collector.requests).toHaveLength(0);
  next.app.child.kill('SIGTERM');
  expect(await next.app.exited).toBe(0);
  expect(collector.events()).toHaveLength(0);
  process.stdout.write(`redeploy sqlite: 0 of ${EVENTS} delivered in ${Date.now() - started} ms\n`);
});

async function outboxRows(): Promise<number> {
  const [row] = await rows<{ n: number }>(pg.pool, `SELECT count(*)::int AS n FROM "${pg.schema}".snowplow_outbox`);
  return row.n;
}
