// The PostgreSQL outbox store against a real server: what lands in the table, the capacity bound
// across instances, leases shared by relays (SKIP LOCKED, deadlines), settling, and NOTIFY wake-ups.
import { randomUUID } from 'node:crypto';
import { Pool, PoolClient } from 'pg';
import { migratePostgresOutbox, PostgresStorage, PostgresStorageOptions, QueuedEvent } from '../../lib/core';
import { bodyBytes, EventKind } from '../../lib/tracker/payload';
import { PG_PORT, rows, usePostgres, viaProxy } from '../support/postgres';
import { startTcpProxy } from '../support/tcp-proxy';
import { waitFor } from '../support/wait-for';

const pg = usePostgres('store');
let table = 0;
const stores: PostgresStorage[] = [];

/** A fresh outbox table for one test. */
async function freshTable(): Promise<{ schema: string; table: string; qualified: string }> {
  const name = `outbox_${++table}`;
  await migratePostgresOutbox(pg.pool, { schema: pg.schema, table: name });
  return { schema: pg.schema, table: name, qualified: `"${pg.schema}"."${name}"` };
}

function store(names: { schema: string; table: string }, options: Partial<PostgresStorageOptions> = {}) {
  const s = new PostgresStorage({ pool: pg.pool, ...names, ...options });
  stores.push(s);
  return s;
}

afterEach(async () => {
  for (const s of stores.splice(0)) await s.close().catch(() => undefined);
});

function event(kind: EventKind = 'custom', i = 0): QueuedEvent {
  const eid = randomUUID();
  const json = `{"e":"ue","eid":"${eid}","dtm":"${Date.now()}","i":"${i}"}`;
  return { kind, eid, dtm: Date.now(), json, bytes: bodyBytes(json), attempts: 0 };
}

describe('writing', () => {
  it('add → committed resolves { durable: true } once the row is in the table, payload as given', async () => {
    const t = await freshTable();
    const s = store(t);
    const e = event('billing');
    s.add(e);
    const committed = s.lastCommit();
    // Nothing is written before the flush: add is synchronous and does no I/O.
    expect(await rows(pg.pool, `SELECT * FROM ${t.qualified}`)).toEqual([]);
    await expect(committed).resolves.toEqual({ durable: true });
    const [row] = await rows(pg.pool, `SELECT eid::text, lane, payload::text AS payload, lane_seq FROM ${t.qualified}`);
    expect(row).toMatchObject({ eid: e.eid, lane: 'billing', payload: e.json, lane_seq: '0' });
  });

  it('events added in one tick are written by ONE multi-row INSERT, sharing one commit promise', async () => {
    const t = await freshTable();
    // A real pool whose clients count the statements they run (not a mock: every query reaches PostgreSQL).
    const counted = new Pool({ connectionString: pg.url });
    const statements: string[] = [];
    const connect = counted.connect.bind(counted) as () => Promise<PoolClient>;
    const countingPool = {
      options: counted.options,
      async connect() {
        const client = await connect();
        const query = client.query.bind(client) as (sql: string, params?: unknown[]) => Promise<unknown>;
        return Object.assign(Object.create(client) as PoolClient, {
          query: (sql: string, params?: unknown[]) => {
            statements.push(sql);
            return query(sql, params);
          },
          release: (err?: Error | boolean) => client.release(err),
        });
      },
    };
    const s = new PostgresStorage({ pool: countingPool as never, ...t });
    stores.push(s);
    const commits = new Set<Promise<unknown>>();
    for (let i = 0; i < 500; i++) {
      s.add(event(i % 10 === 0 ? 'billing' : 'custom', i));
      commits.add(s.lastCommit());
    }
    expect(commits.size).toBe(1);
    await Promise.all(commits);
    expect(statements.filter((sql) => /INSERT INTO/.test(sql))).toHaveLength(1);
    expect(await rows(pg.pool, `SELECT count(*)::int AS n FROM ${t.qualified}`)).toEqual([{ n: 500 }]);
    await s.close();
    await counted.end();
  });

  it('capacity bounds the custom rows of the whole table across two instances; billing rows are never evicted', async () => {
    const t = await freshTable();
    const a = store(t, { capacity: 10 });
    const b = store(t, { capacity: 10 });
    for (let round = 0; round < 4; round++) {
      for (const s of [a, b]) {
        for (let i = 0; i < 6; i++) s.add(event('custom', round * 100 + i));
        s.add(event('billing'));
        await s.lastCommit();
      }
    }
    const counts = await rows(
      pg.pool,
      `SELECT lane, count(*)::int AS n FROM ${t.qualified} GROUP BY lane ORDER BY lane`,
    );
    expect(counts).toEqual([
      { lane: 'billing', n: 8 },
      { lane: 'custom', n: 10 },
    ]);
    // The newest stayed: the last ten custom rows written (b's last six, a's last four).
    const kept = await rows<{ i: string }>(
      pg.pool,
      `SELECT payload->>'i' AS i FROM ${t.qualified} WHERE lane = 'custom' ORDER BY seq`,
    );
    expect(kept.map((r) => r.i)).toEqual(['302', '303', '304', '305', '300', '301', '302', '303', '304', '305']);
    // Each instance counts the rows its INSERTs evicted: 48 written, 10 kept.
    expect(a.takeEvictions() + b.takeEvictions()).toBe(38);
  });

  it('a full write-behind buffer refuses the track call with StorageBufferFullError', () => {
    const s = store({ schema: pg.schema, table: 'never_written' }, { maxBufferedEvents: 2 });
    s.add(event());
    s.add(event());
    expect(() => s.add(event())).toThrow(expect.objectContaining({ code: 'STORAGE_BUFFER_FULL' }));
    // Its two events are given up at close (the table does not exist): not waiting forever.
    return s.persist(50);
  });
});

describe('relaying', () => {
  it('two instances leasing at once never take the same event (FOR UPDATE SKIP LOCKED), billing first', async () => {
    const t = await freshTable();
    const writer = store(t);
    const eids: string[] = [];
    for (let i = 0; i < 200; i++) {
      const e = event(i % 4 === 0 ? 'billing' : 'custom', i);
      eids.push(e.eid);
      writer.add(e);
    }
    await writer.lastCommit();
    const a = store(t);
    const b = store(t);
    const taken: QueuedEvent[][] = [[], []];
    await Promise.all(
      [a, b].map(async (s, n) => {
        for (;;) {
          const batch = await s.lease(7);
          if (batch.length === 0) return;
          taken[n].push(...batch);
        }
      }),
    );
    const all = [...taken[0], ...taken[1]].map((e) => e.eid);
    expect(new Set(all).size).toBe(all.length);
    expect([...all].sort()).toEqual([...eids].sort());
    expect(taken[0].length).toBeGreaterThan(0);
    expect(taken[1].length).toBeGreaterThan(0);
    // Within one instance's leases, every billing event came before any custom one.
    for (const list of taken) {
      const firstCustom = list.findIndex((e) => e.kind === 'custom');
      expect(list.slice(firstCustom).some((e) => e.kind === 'billing')).toBe(false);
    }
  });

  it('lease applies maxBytes and puts the surplus back at once', async () => {
    const t = await freshTable();
    const s = store(t);
    for (let i = 0; i < 5; i++) s.add(event('custom', i));
    await s.lastCommit();
    const one = event().bytes;
    const batch = await s.lease(5, one * 2 + 1);
    expect(batch).toHaveLength(2);
    const leased = await rows(pg.pool, `SELECT count(*)::int AS n FROM ${t.qualified} WHERE lease_owner IS NOT NULL`);
    expect(leased).toEqual([{ n: 2 }]);
  });

  it('a lease whose deadline passed is taken by another instance; the first owner can then no longer ack it', async () => {
    const t = await freshTable();
    const a = store(t, { leaseMs: 1_000, instanceId: 'relay-a' });
    const b = store(t, { instanceId: 'relay-b' });
    const e = event('billing');
    a.add(e);
    await a.lastCommit();
    const [leased] = await a.lease(10);
    expect(leased.eid).toBe(e.eid);
    expect(await b.lease(10)).toEqual([]);
    const retaken = await waitFor(async () => (await b.lease(10))[0], {
      timeoutMs: 10_000,
      intervalMs: 100,
      what: 'the lease to expire',
    });
    expect(retaken.eid).toBe(e.eid);
    // a's ack matches nothing: the row is b's now.
    await a.ack([leased]);
    expect(await rows(pg.pool, `SELECT lease_owner FROM ${t.qualified}`)).toEqual([{ lease_owner: 'relay-b' }]);
    await b.ack([retaken]);
    expect(await rows(pg.pool, `SELECT * FROM ${t.qualified}`)).toEqual([]);
  });

  it('ack deletes, release clears the lease with the attempt count, deadLetter moves the row to <table>_dead', async () => {
    const t = await freshTable();
    const s = store(t);
    const [delivered, failed, refused] = [event('billing'), event('custom', 1), event('custom', 2)];
    s.addBatch([delivered, failed, refused]);
    await s.lastCommit();
    const batch = await s.lease(3);
    expect(batch.map((e) => e.eid)).toEqual([delivered.eid, failed.eid, refused.eid]);
    const [d, f, r] = batch;
    await s.ack([d]);
    f.attempts = 3;
    await s.release([f]);
    r.attempts = 1;
    await s.deadLetter([r], { reason: 'refused', statusCode: 400, error: 'the collector answered HTTP 400' });
    expect(await rows(pg.pool, `SELECT eid::text, attempts, lease_owner, lease_until FROM ${t.qualified}`)).toEqual([
      { eid: failed.eid, attempts: 3, lease_owner: null, lease_until: null },
    ]);
    const dead = await rows(
      pg.pool,
      `SELECT eid::text, lane, payload::text AS payload, attempts, reason, status_code, error FROM "${t.schema}"."${t.table}_dead"`,
    );
    expect(dead).toEqual([
      {
        eid: refused.eid,
        lane: 'custom',
        payload: refused.json,
        attempts: 1,
        reason: 'refused',
        status_code: 400,
        error: 'the collector answered HTTP 400',
      },
    ]);
    // The released event is leased again, with its attempts.
    const [again] = await s.lease(3);
    expect(again).toMatchObject({ eid: failed.eid, attempts: 3 });
  });

  it('deadLetter is one transaction: when the insert into the dead table fails, the row stays in the outbox', async () => {
    const t = await freshTable();
    const s = store(t);
    s.add(event('billing'));
    await s.lastCommit();
    const batch = await s.lease(1);
    await pg.pool.query(
      `ALTER TABLE "${t.schema}"."${t.table}_dead" ADD CONSTRAINT no_refused CHECK (reason <> 'refused')`,
    );
    await expect(s.deadLetter(batch, { reason: 'refused', error: 'x' })).rejects.toThrow(/no_refused/);
    expect(await rows(pg.pool, `SELECT count(*)::int AS n FROM ${t.qualified}`)).toEqual([{ n: 1 }]);
    expect(await rows(pg.pool, `SELECT count(*)::int AS n FROM "${t.schema}"."${t.table}_dead"`)).toEqual([{ n: 0 }]);
  });

  it("a NOTIFY from another writer's commit (even a hand-written INSERT) wakes the relay at once", async () => {
    const t = await freshTable();
    const relay = store(t, { pollIntervalMs: 600_000 });
    let wakes = 0;
    relay.onCommitted(() => wakes++);
    // The listener wakes the relay once its LISTEN is in place (commits before it were not heard).
    await waitFor(() => wakes > 0, { what: 'the LISTEN connection' });
    await relay.lease(10); // looked: the table is empty, nothing unknown waits
    expect(relay.size).toBe(0);
    expect(relay.mayHaveMore).toBe(false);
    const before = wakes;
    const eid = randomUUID();
    await pg.pool.query(`INSERT INTO ${t.qualified} (eid, lane, payload) VALUES ($1, 'billing', $2)`, [
      eid,
      `{"e":"se","eid":"${eid}","dtm":"1"}`,
    ]);
    await waitFor(() => wakes > before, { timeoutMs: 5_000, what: 'the NOTIFY' });
    // Not counted (an idle instance reports nothing queued), but the send loop is told to look.
    expect(relay.size).toBe(0);
    expect(relay.mayHaveMore).toBe(true);
    const [leased] = await relay.lease(10);
    expect(leased).toMatchObject({ eid, kind: 'billing', dtm: 1 });
  });
});

describe('the LISTEN connection', () => {
  it('comes back after the connection is lost (through a proxy that cuts it), and NOTIFY wakes the relay again', async () => {
    const t = await freshTable();
    const proxy = await startTcpProxy(PG_PORT);
    try {
      const relay = store(t, { connectionString: viaProxy(proxy.port), pool: undefined });
      let wakes = 0;
      relay.onCommitted(() => wakes++);
      await waitFor(() => wakes > 0, { what: 'the LISTEN connection' });
      proxy.cut();
      proxy.resume();
      // Once LISTEN is in place again, it wakes the relay (commits meanwhile were not heard).
      await waitFor(() => wakes > 1, { what: 'the LISTEN connection, again' });
      const before = wakes;
      await pg.pool.query(`INSERT INTO ${t.qualified} (eid, lane, payload) VALUES ($1, 'custom', '{}')`, [
        randomUUID(),
      ]);
      await waitFor(() => wakes > before, { timeoutMs: 5_000, what: 'the NOTIFY' });
    } finally {
      await proxy.close();
    }
  });
});

describe('inside the caller’s transaction', () => {
  it('insertInTransaction writes through the caller’s client: ROLLBACK leaves nothing, COMMIT makes it visible', async () => {
    const t = await freshTable();
    const s = store(t);
    const client = await pg.pool.connect();
    try {
      const exec = (sql: string, params: unknown[]) => client.query(sql, params);
      const rolledBack = event('billing');
      await client.query('BEGIN');
      await s.insertInTransaction([rolledBack], exec);
      expect(await rows(pg.pool, `SELECT * FROM ${t.qualified}`)).toEqual([]);
      await client.query('ROLLBACK');
      const committed = event('billing');
      await client.query('BEGIN');
      await s.insertInTransaction([committed], exec);
      expect(await rows(pg.pool, `SELECT * FROM ${t.qualified}`)).toEqual([]);
      await client.query('COMMIT');
      expect(await rows(pg.pool, `SELECT eid::text FROM ${t.qualified}`)).toEqual([{ eid: committed.eid }]);
    } finally {
      client.release();
    }
  });
});
