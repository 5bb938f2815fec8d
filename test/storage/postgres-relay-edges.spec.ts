// Edges of the PostgreSQL relay that a review reproduced: drain() never reports done while rows
// wait in the table (after a failed send, or right after a commit through the caller's
// transaction); a live owner that splits a slow batch keeps its lease, so no other instance sends
// the batch again; and stop() waits for an INSERT on its way instead of reporting it as not
// stored while it commits a moment later.
import { Emitter, EmitterOptions, migratePostgresOutbox, Tracker } from '../../lib/core';
import { LocalCollector, startLocalCollector } from '../../lib/testing/local-collector';
import { rows, usePostgres } from '../support/postgres';
import { waitFor } from '../support/wait-for';

const pg = usePostgres('relay_edges');
const USAGE = { category: 'ci', eventType: 'minutes', realm: 'SaaS' as const, unitOfMeasure: 'minute', quantity: 1 };
const quiet = { log: () => undefined, warn: () => undefined, error: () => undefined };
let collector: LocalCollector;
let table = 0;
let names: { schema: string; table: string };
const emitters: Emitter[] = [];

beforeEach(async () => {
  collector = await startLocalCollector();
  names = { schema: pg.schema, table: `edges_${++table}` };
  await migratePostgresOutbox(pg.pool, names);
});
afterEach(async () => {
  await Promise.all(emitters.splice(0).map((e) => e.stop()));
  await collector.close();
});

function emitter(options: Partial<EmitterOptions> = {}, storage: object = {}): Emitter {
  const e = new Emitter({
    collectorUrl: collector.endpoint,
    storage: { type: 'postgres', pool: pg.pool, ...names, ...storage },
    logger: quiet,
    ...options,
  });
  emitters.push(e);
  return e;
}
const inTable = async () => (await rows(pg.pool, `SELECT 1 FROM "${names.schema}"."${names.table}"`)).length;
const later = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

it('drain() after a failed send is not done: the released row still counts, and drains once it is delivered', async () => {
  collector.behaviour = () => ({ status: 503 });
  const e = emitter({ backoff: { baseMs: 2_000, capMs: 2_000 } });
  e.start();
  const { eid, committed } = new Tracker({ appId: 'edges', emitter: e }).trackBillingEvent(USAGE);
  await committed;
  await waitFor(() => collector.requests.length >= 1 && e.stats().inFlight === 0, { what: 'the refused send' });
  await expect(e.drain(300)).resolves.toMatchObject({ drained: false, remaining: 1 });
  expect(await inTable()).toBe(1);
  collector.behaviour = undefined;
  await expect(e.drain(20_000)).resolves.toMatchObject({ drained: true, remaining: 0 });
  expect(collector.events().map((event) => event.eid)).toEqual([eid]);
  expect(await inTable()).toBe(0);
});

it("drain() right after a commit through the caller's transaction waits for that row's delivery", async () => {
  const e = emitter();
  e.start();
  const tracker = new Tracker({ appId: 'edges', emitter: e });
  const client = await pg.pool.connect();
  let eid: string;
  try {
    await client.query('BEGIN');
    eid = (await tracker.inTransaction(client).trackBillingEvent(USAGE)).eid;
    await client.query('COMMIT');
  } finally {
    client.release();
  }
  await expect(e.drain(20_000)).resolves.toMatchObject({ drained: true });
  // Drained means delivered: the row was at the collector when drain() resolved.
  expect(collector.events().map((event) => event.eid)).toEqual([eid]);
});

it('a live owner splitting a slow batch renews its lease: another relay never sends the batch again', async () => {
  // Every request takes 700 ms; batches of more than one event are refused (413), so the batch of
  // 8 is halved down to single events: 15 requests, far longer than the 2.1 s lease.
  const sizeOf = (body: string) => (JSON.parse(body) as { data: unknown[] }).data.length;
  collector.behaviour = (request) => ({ status: sizeOf(request.body) > 1 ? 413 : 200, after: later(700) });
  const options = { requestTimeoutMs: 1_000, batchSize: 8, lingerMs: 0 };
  const storage = { leaseMs: 2_100, pollIntervalMs: 100 };
  const owner = emitter(options, storage);
  const tracker = new Tracker({ appId: 'edges', emitter: owner });
  for (let i = 0; i < 8; i++) tracker.trackBillingEvent(USAGE);
  await waitFor(async () => (await inTable()) === 8, { what: 'the 8 rows committed' });
  owner.start();
  await waitFor(() => collector.requests.length >= 1, { what: 'the owner’s first request' });
  const other = emitter(options, storage);
  other.start();
  await waitFor(() => new Set(collector.events().map((event) => event.eid)).size === 8, {
    timeoutMs: 40_000,
    what: 'all 8 delivered',
  });
  await Promise.all([owner.drain(20_000), other.drain(20_000)]);
  expect(collector.counts().accepted).toEqual({ total: 8, distinct: 8 });
  expect(await inTable()).toBe(0);
}, 60_000);

it('stop() waits for an INSERT held by a lock: the bill commits and is not dead-lettered as not stored', async () => {
  const errors: string[] = [];
  const e = emitter({ logger: { ...quiet, error: (m: string) => void errors.push(m) } }, { queryTimeoutMs: 30_000 });
  const locker = await pg.pool.connect();
  await locker.query('BEGIN');
  await locker.query(`LOCK TABLE "${names.schema}"."${names.table}" IN SHARE MODE`);
  const { eid, committed } = new Tracker({ appId: 'edges', emitter: e }).trackBillingEvent(USAGE);
  const outcome = committed.then(
    (value) => ({ resolved: value }),
    (err: Error) => ({ rejected: err.name }),
  );
  const stopping = e.stop();
  // The lock is held past stop()'s 5 s budget for writing the buffer, then released.
  await later(6_000);
  await locker.query('COMMIT');
  locker.release();
  await stopping;
  await expect(outcome).resolves.toEqual({ resolved: { durable: true } });
  expect(await rows(pg.pool, `SELECT eid::text FROM "${names.schema}"."${names.table}"`)).toEqual([{ eid }]);
  expect(errors.filter((m) => /could not be written/.test(m))).toEqual([]);
}, 60_000);
