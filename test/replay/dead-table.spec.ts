// The replay of the PostgreSQL store's dead-letter table: requeueDeadLetterTable moves the chosen
// rows back into the outbox in one statement, and the running relays deliver them with their
// original eids; rows the collector refuses again return to the dead-letter table.
import { Emitter, migratePostgresOutbox, requeueDeadLetterTable, Tracker } from '../../lib/core';
import { LocalCollector, startLocalCollector } from '../../lib/testing/local-collector';
import { runReplayCli } from '../../lib/replay/replay.cli';
import { rows, usePostgres } from '../support/postgres';
import { waitFor } from '../support/wait-for';

const pg = usePostgres('dead_table');
const USAGE = { category: 'ci', eventType: 'minutes', realm: 'SaaS' as const, unitOfMeasure: 'minute', quantity: 1 };
let collector: LocalCollector;
let emitter: Emitter;
let tracker: Tracker;
let table = 0;
let names: { schema: string; table: string };

const dead = async () =>
  rows<{ eid: string; reason: string; lane: string }>(
    pg.pool,
    `SELECT eid::text, reason, lane FROM "${names.schema}"."${names.table}_dead" ORDER BY eid`,
  );
const waiting = async () => (await rows(pg.pool, `SELECT 1 FROM "${names.schema}"."${names.table}"`)).length;

beforeEach(async () => {
  collector = await startLocalCollector();
  names = { schema: pg.schema, table: `outbox_${++table}` };
  await migratePostgresOutbox(pg.pool, names);
  emitter = new Emitter({
    collectorUrl: collector.endpoint,
    storage: { type: 'postgres', pool: pg.pool, ...names, pollIntervalMs: 200 },
    lingerMs: 0,
    maxAttempts: 2,
    backoff: { baseMs: 5, capMs: 20 },
    logger: { log: () => undefined, warn: () => undefined, error: () => undefined },
  });
  tracker = new Tracker({ appId: 'dead-table', emitter });
  emitter.start();
});
afterEach(async () => {
  await emitter.stop();
  await collector.close();
});

it('requeues the chosen reasons only; the relays deliver them with their eids; refused rows come back', async () => {
  // Two events expire against a collector in an outage; one is refused for its content.
  collector.behaviour = () => ({ status: 503 });
  const expired = [tracker.trackBillingEvent(USAGE).eid, tracker.trackEvent('late').eid];
  await waitFor(async () => (await dead()).length === 2, { what: 'two expired rows in the dead-letter table' });
  collector.behaviour = () => ({ status: 400 });
  const refused = tracker.trackEvent('bad').eid;
  await waitFor(async () => (await dead()).length === 3, { what: 'the refused row in the dead-letter table' });
  expect((await dead()).map((r) => [r.eid, r.reason])).toEqual(
    [...expired.map((eid) => [eid, 'expired']), [refused, 'rejected']].sort((a, b) => a[0].localeCompare(b[0])),
  );

  // The collector recovers, but still refuses `bad`.
  collector.behaviour = (req) => (req.body.includes(refused) ? { status: 400 } : undefined);
  await expect(requeueDeadLetterTable(pg.pool, { ...names, reasons: ['expired'] })).resolves.toEqual({
    requeued: 2,
    billing: 1,
  });
  await waitFor(() => expired.every((eid) => collector.events().some((e) => e.eid === eid)), {
    what: 'the requeued events at the collector',
  });
  await waitFor(async () => (await waiting()) === 0, { what: 'the outbox to empty' });
  expect((await dead()).map((r) => r.eid)).toEqual([refused]);

  // Requeued again, refused again: back in the dead-letter table, never lost.
  await expect(requeueDeadLetterTable(pg.pool, names)).resolves.toEqual({ requeued: 1, billing: 0 });
  await waitFor(async () => (await dead()).length === 1 && (await waiting()) === 0, {
    what: 'the refused row back in the dead-letter table',
  });
  expect(await dead()).toEqual([{ eid: refused, reason: 'rejected', lane: 'custom' }]);
  expect(collector.counts().accepted).toEqual({ total: 2, distinct: 2 });
});

it('by eid, and never a row whose eid is still in the outbox; bad options are refused by name', async () => {
  collector.behaviour = () => ({ status: 400 });
  const [a, b] = [tracker.trackEvent('a').eid, tracker.trackEvent('b').eid];
  await waitFor(async () => (await dead()).length === 2, { what: 'two refused rows' });
  collector.behaviour = undefined;
  await expect(requeueDeadLetterTable(pg.pool, { ...names, eids: [b] })).resolves.toEqual({ requeued: 1, billing: 0 });
  await waitFor(() => collector.events().some((e) => e.eid === b), { what: 'b delivered' });
  expect(collector.events().map((e) => e.eid)).not.toContain(a);
  expect((await dead()).map((r) => r.eid)).toEqual([a]);
  await expect(requeueDeadLetterTable(pg.pool, { ...names, reasons: [''] })).rejects.toMatchObject({
    code: 'INVALID_OPTION',
    option: 'reasons',
  });
  await expect(requeueDeadLetterTable({} as never, names)).rejects.toMatchObject({ option: 'db' });
});

it('the CLI: nestjs-snowplow-replay --postgres URL --reason expired moves the rows and says so', async () => {
  collector.behaviour = () => ({ status: 503 });
  const eid = tracker.trackBillingEvent(USAGE).eid;
  await waitFor(async () => (await dead()).length === 1, { what: 'an expired row' });
  collector.behaviour = undefined;
  const out: string[] = [];
  const output = { out: (l: string) => out.push(l), err: (l: string) => out.push(`ERR ${l}`) };
  const argv = ['--postgres', pg.url, '--schema', names.schema, '--table', names.table, '--reason', 'expired'];
  await expect(runReplayCli(argv, output)).resolves.toBe(0);
  expect(out).toEqual([
    `${names.schema}.${names.table}_dead: 1 events (1 billing) moved back into ${names.schema}.${names.table}; ` +
      'the relays of the running instances send them (or of the next to start)',
  ]);
  await waitFor(() => collector.events().some((e) => e.eid === eid), { what: 'the requeued bill delivered' });
  await expect(runReplayCli(['--postgres'], output)).rejects.toMatchObject({ code: 'REPLAY_USAGE' });
  await expect(runReplayCli(['--postgres', pg.url, '--bogus'], output)).rejects.toMatchObject({
    code: 'REPLAY_USAGE',
  });
});

it('names each bad option, refuses any list but one of non-empty strings, and reads an answer without rows', async () => {
  await expect(requeueDeadLetterTable({} as never, names)).rejects.toThrow(
    'must be a pg Pool or Client (an object with query)',
  );
  await expect(requeueDeadLetterTable(pg.pool, { ...names, table: 'bad name' })).rejects.toMatchObject({
    option: 'options.table',
  });
  for (const reasons of [['expired', 7], ['expired', ''], 'expired']) {
    await expect(requeueDeadLetterTable(pg.pool, { ...names, reasons: reasons as never })).rejects.toMatchObject({
      option: 'reasons',
      message: expect.stringContaining('must be an array of non-empty strings'),
    });
  }
  await expect(requeueDeadLetterTable(pg.pool, { ...names, eids: [''] })).rejects.toMatchObject({ option: 'eids' });
  // Anything with query will do (the interface's contract); an answer without rows moved nothing.
  await expect(requeueDeadLetterTable({ query: async () => ({ rows: [] }) }, names)).resolves.toEqual({
    requeued: 0,
    billing: 0,
  });
  const output = { out: () => undefined, err: () => undefined };
  await expect(runReplayCli(['--postgres='], output)).rejects.toMatchObject({
    code: 'REPLAY_USAGE',
    message: expect.stringContaining('--postgres needs a connection string'),
  });
  const out: string[] = [];
  const argv = [`--postgres=${pg.url}`, '--schema', names.schema, '--table', names.table];
  await expect(runReplayCli(argv, { out: (l) => out.push(l), err: (l) => out.push(`ERR ${l}`) })).resolves.toBe(0);
  expect(out).toEqual([
    `${names.schema}.${names.table}_dead: 0 events (0 billing) moved back into ${names.schema}.${names.table}; ` +
      'the relays of the running instances send them (or of the next to start)',
  ]);
});
