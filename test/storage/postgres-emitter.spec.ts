// The PostgreSQL outbox under a real Emitter and a real loopback collector: relays on two
// instances deliver every event once, stop() names what it leaves in the shared table, a database
// outage (a TCP proxy cut, never the shared server) rejects the commits it cannot make and loses
// nothing committed, and a script that just ends still delivers.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import {
  DeadLetterRecord,
  Emitter,
  EmitterOptions,
  migratePostgresOutbox,
  StorageBufferFullError,
  StorageCommitUnknownError,
  StorageUnavailableError,
  Tracker,
} from '../../lib/core';
import { LocalCollector, startLocalCollector } from '../../lib/testing/local-collector';
import { PG_PORT, rows, usePostgres, viaProxy } from '../support/postgres';
import { startTcpProxy, TcpProxy } from '../support/tcp-proxy';
import { waitFor } from '../support/wait-for';

const pg = usePostgres('emitter');
let collector: LocalCollector;
let table = 0;
let names: { schema: string; table: string; qualified: string };
const emitters: Emitter[] = [];
const lines: string[] = [];
const logger = {
  log: (m: string) => lines.push(`log ${m}`),
  warn: (m: string) => lines.push(`warn ${m}`),
  error: (m: string) => lines.push(`error ${m}`),
};

beforeEach(async () => {
  collector = await startLocalCollector();
  const t = `outbox_${++table}`;
  names = { schema: pg.schema, table: t, qualified: `"${pg.schema}"."${t}"` };
  lines.length = 0;
});
afterEach(async () => {
  for (const e of emitters.splice(0)) await e.stop();
  await collector.close();
});

function emitter(options: Partial<EmitterOptions> & { storageOptions?: object; url?: string } = {}): Emitter {
  const { storageOptions, url, ...rest } = options;
  const e = new Emitter({
    collectorUrl: collector.endpoint,
    storage: {
      type: 'postgres',
      connectionString: url ?? pg.url,
      schema: names.schema,
      table: names.table,
      createTable: true,
      ...storageOptions,
    },
    backoff: { baseMs: 20, capMs: 200 },
    logger,
    ...rest,
  });
  emitters.push(e);
  return e;
}

const bill = (tracker: Tracker) =>
  tracker.trackBillingEvent({
    category: 'ci',
    eventType: 'minutes',
    realm: 'SaaS',
    unitOfMeasure: 'minute',
    quantity: 1,
  });

describe('relays on every instance', () => {
  it('two emitters sharing one table deliver every event exactly once, and leave the table empty', async () => {
    const [a, b] = [emitter({ batchSize: 20 }), emitter({ batchSize: 20 })];
    a.start();
    b.start();
    const eids: string[] = [];
    const commits: Array<Promise<unknown>> = [];
    for (const [n, e] of [a, b].entries()) {
      const tracker = new Tracker({ appId: `instance-${n}`, emitter: e });
      for (let i = 0; i < 300; i++) {
        const result = i % 10 === 0 ? bill(tracker) : tracker.trackEvent('tick', { i });
        eids.push(result.eid);
        commits.push(result.committed);
      }
    }
    await expect(Promise.all(commits)).resolves.toContainEqual({ durable: true });
    await collector.waitForEvents(600);
    await Promise.all([a.drain(20_000), b.drain(20_000)]);
    const delivered = collector.events().map((e) => e.eid);
    expect(delivered).toHaveLength(600);
    expect([...delivered].sort()).toEqual([...eids].sort());
    expect(await rows(pg.pool, `SELECT count(*)::int AS n FROM ${names.qualified}`)).toEqual([{ n: 0 }]);
    // Between them, the two relays sent each event once.
    expect(a.stats().sent + b.stats().sent).toBe(600);
  });

  it('stop() commits the buffer, names what it leaves in schema.table, and the next instance delivers it', async () => {
    const first = emitter(); // never started: nothing is sent
    const tracker = new Tracker({ appId: 'first', emitter: first });
    const eids = Array.from({ length: 7 }, () => bill(tracker).eid);
    await first.stop();
    expect(lines).toContain(
      `log 7 events are left in ${names.schema}.${names.table} for another instance or the next start`,
    );
    expect(first.stats().dropped.shutdown).toBe(0);
    expect(await rows(pg.pool, `SELECT count(*)::int AS n FROM ${names.qualified}`)).toEqual([{ n: 7 }]);
    const next = emitter();
    next.start();
    await collector.waitForEvents(7);
    expect(
      collector
        .events()
        .map((e) => e.eid)
        .sort(),
    ).toEqual([...eids].sort());
  });

  it('a full write-behind buffer makes trackEvent throw StorageBufferFullError, counted; billing too', async () => {
    // A table that does not exist: every flush is refused, so the buffer fills.
    const e = emitter({ storageOptions: { maxBufferedEvents: 3, createTable: false, table: 'missing' } });
    const tracker = new Tracker({ appId: 'full', emitter: e });
    for (let i = 0; i < 3; i++) tracker.trackEvent('buffered', { i });
    expect(() => tracker.trackEvent('one_too_many')).toThrow(expect.objectContaining({ code: 'STORAGE_BUFFER_FULL' }));
    expect(() => bill(tracker)).toThrow(StorageBufferFullError);
    expect(e.stats()).toMatchObject({ enqueued: 3, storageErrors: expect.any(Number) });
    expect(e.stats().storageErrors).toBeGreaterThanOrEqual(2);
    // Nothing was held in memory past the bound: the three buffered events wait (held events would
    // add two; rows the store could not look at yet are not counted, see mayHaveMore).
    expect(e.stats().queued).toBe(3);
  });

  it('leaseMs must exceed requestTimeoutMs plus a margin: checked when the emitter is built', () => {
    expect(() => emitter({ requestTimeoutMs: 5_000, storageOptions: { leaseMs: 5_500 } })).toThrow(
      expect.objectContaining({ code: 'INVALID_OPTION', option: 'storage.leaseMs' }),
    );
    expect(() => emitter({ requestTimeoutMs: 1_000, storageOptions: { leaseMs: 3_000 } })).not.toThrow();
  });
});

describe('a database outage (a TCP proxy between the store and PostgreSQL)', () => {
  let proxy: TcpProxy;
  let dir: string;
  beforeEach(async () => {
    proxy = await startTcpProxy(PG_PORT);
    dir = mkdtempSync(join(tmpdir(), 'pg-outage-'));
  });
  afterEach(async () => {
    await proxy.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('commits that cannot be made reject with StorageUnavailableError after commitTimeoutMs, are dead-lettered, and nothing committed is lost', async () => {
    await migratePostgresOutbox(pg.pool, names);
    const deadLetter = join(dir, 'dead.jsonl');
    const url = viaProxy(proxy.port);
    const e = emitter({
      url,
      storageOptions: { commitTimeoutMs: 1_500, queryTimeoutMs: 500, createTable: false },
      deadLetter: { path: deadLetter },
    });
    e.start();
    const tracker = new Tracker({ appId: 'outage', emitter: e });
    const before = Array.from({ length: 5 }, () => bill(tracker));
    await Promise.all(before.map((r) => r.committed));

    proxy.cut();
    const during = Array.from({ length: 4 }, () => bill(tracker));
    const startedAt = Date.now();
    for (const r of during) await expect(r.committed).rejects.toBeInstanceOf(StorageUnavailableError);
    // The outage shows: stats() carries the store's error while it lasts.
    expect(e.stats().storageError).toMatch(/ECONNRESET|ECONNREFUSED|connect/);
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(1_400);
    await waitFor(() => e.stats().dropped.not_stored === 4, { what: 'the four events counted as not_stored' });
    const dead = readFileSync(deadLetter, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as DeadLetterRecord);
    expect(dead.map((d) => d.eid).sort()).toEqual(during.map((r) => r.eid).sort());
    expect(dead.every((d) => d.reason === 'not_stored')).toBe(true);

    proxy.resume();
    const after = Array.from({ length: 5 }, () => bill(tracker));
    await Promise.all(after.map((r) => r.committed));
    await collector
      .waitFor((s) => s.good.length >= 10, { timeoutMs: 20_000 })
      .catch(async (err) => {
        const table = await rows(
          pg.pool,
          `SELECT seq, lane, lease_owner, lease_until, now() AS now FROM ${names.qualified}`,
        );
        throw new Error(
          `${err}\n${JSON.stringify(table)}\n${JSON.stringify(e.stats())}\n${lines.slice(-5).join('\n')}`,
        );
      });
    await e.drain(20_000);
    const delivered = collector.events().map((ev) => ev.eid);
    expect([...delivered].sort()).toEqual([...before, ...after].map((r) => r.eid).sort());
    expect(e.stats().storageError).toBeUndefined();
    expect(existsSync(deadLetter)).toBe(true);
  });
  it('a write whose connection hangs after the statement was sent rejects with StorageCommitUnknownError: not a plain failure', async () => {
    await migratePostgresOutbox(pg.pool, names);
    const url = viaProxy(proxy.port);
    const e = emitter({ url, storageOptions: { commitTimeoutMs: 1_500, queryTimeoutMs: 400, createTable: false } });
    e.start();
    const tracker = new Tracker({ appId: 'hang', emitter: e });
    const before = bill(tracker);
    await before.committed;
    await collector.waitForEvents(1);
    await e.drain(10_000);
    // The pool keeps an idle connection: the next INSERT goes out on it, and no answer comes.
    proxy.pause();
    const during = bill(tracker);
    await expect(during.committed).rejects.toBeInstanceOf(StorageCommitUnknownError);
    await expect(during.committed).rejects.toThrow(/may or may not have committed/);
    expect(e.stats().dropped.not_stored).toBe(1);
    proxy.resume();
    const after = bill(tracker);
    await expect(after.committed).resolves.toEqual({ durable: true });
    await collector.waitForEvents(2);
    await e.drain(10_000);
    // Whether the hung INSERT committed is unknown by nature: the proxy held its bytes, and forwards
    // them on resume, so it may have. Committed events all arrive; nothing arrives twice.
    const delivered = collector.events().map((ev) => ev.eid);
    expect(delivered).toEqual(expect.arrayContaining([before.eid, after.eid]));
    expect(new Set(delivered).size).toBe(delivered.length);
    expect(delivered.filter((eid) => eid !== during.eid)).toHaveLength(2);
  });
});

describe("a script's end", () => {
  it('a script that tracks with its own pool and just ends: all delivered before it exits, the pool never holds it', async () => {
    await migratePostgresOutbox(pg.pool, names);
    const child = spawn(
      process.execPath,
      ['-r', '@swc-node/register', join(__dirname, '../fixtures/apps/postgres-script-end.ts')],
      {
        cwd: resolve(__dirname, '../..'),
        env: {
          ...process.env,
          COLLECTOR_URL: collector.endpoint,
          PG_URL: pg.url,
          PG_SCHEMA: names.schema,
          PG_TABLE: names.table,
          BILLING: '5',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => (stdout += c));
    child.stderr.on('data', (c) => (stderr += c));
    const timer = setTimeout(() => child.kill('SIGKILL'), 45_000);
    let trackedAt = 0;
    child.stdout.on('data', () => (trackedAt ||= stdout.includes('tracked ') ? Date.now() : 0));
    const code = await new Promise<number | null>((done) => child.on('exit', (c) => done(c)));
    const endedAfterMs = Date.now() - trackedAt;
    clearTimeout(timer);
    expect({ code, stderr }).toMatchObject({ code: 0 });
    const eids = /^tracked (.*)$/m.exec(stdout)?.[1].split(' ') ?? [];
    expect(eids).toHaveLength(5);
    expect(
      collector
        .events()
        .map((e) => e.eid)
        .sort(),
    ).toEqual([...eids].sort());
    expect(await rows(pg.pool, `SELECT count(*)::int AS n FROM ${names.qualified}`)).toEqual([{ n: 0 }]);
    // Idle pool clients (10 s idle timeout) and the LISTEN connection would hold it far longer.
    expect(endedAfterMs).toBeLessThan(8_000);
  }, 60_000);
});
