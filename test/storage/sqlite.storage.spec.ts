import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  Emitter,
  MissingDependencyError,
  QueuedEvent,
  SqliteStorage,
  StorageCorruptError,
  StorageLockedError,
  Tracker,
} from '../../lib/core';
import { decodeAccepted } from '../support/decode';
import { quietLogger } from '../support/emitter-harness';
import { TestCollector } from '../support/test-collector';
import { waitFor } from '../support/wait-for';
import { take } from './support/take';
import { walFrames } from './support/wal';

const event = (n: number): QueuedEvent => ({
  kind: 'custom',
  eid: `e${n}`,
  dtm: 1_700_000_000_000 + n,
  json: `{"n":"${n}"}`,
  bytes: 12,
  attempts: 0,
});
const nextTick = () => new Promise((resolve) => setImmediate(resolve));
const ROOT = join(__dirname, '../..');

let dir: string;
let path: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'snowplow-sqlite-'));
  path = join(dir, 'outbox.db');
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('SqliteStorage', () => {
  it('keeps waiting and leased-but-unacked events across a restart, oldest first, unchanged', async () => {
    const first = new SqliteStorage({ path });
    first.addBatch([1, 2, 3, 4].map(event));
    const leased = first.lease(2);
    expect(leased.map((e) => e.eid)).toEqual(['e1', 'e2']);
    first.close();
    const second = new SqliteStorage({ path });
    expect(second.size).toBe(4);
    const back = take(second, 10);
    expect(back.map(({ id: _id, ...e }) => e)).toEqual([1, 2, 3, 4].map(event));
    second.close();
  });

  it('writes the events of one tick in one transaction, after the tick', async () => {
    const storage = new SqliteStorage({ path });
    const commits = () => walFrames(`${path}-wal`).commits;
    const before = commits();
    for (let i = 0; i < 1_000; i++) storage.add(event(i));
    expect(commits()).toBe(before);
    await nextTick();
    expect(commits()).toBe(before + 1);
    storage.close();
    const reopened = new SqliteStorage({ path });
    expect(reopened.size).toBe(1_000);
    reopened.close();
  });

  it('opens a file written by the previous version (one lane): its structured events become billing events', () => {
    const Driver = require('better-sqlite3') as typeof import('better-sqlite3');
    const v1 = new Driver(path);
    v1.exec(`
      CREATE TABLE snowplow_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
      CREATE TABLE snowplow_events (seq INTEGER PRIMARY KEY AUTOINCREMENT, eid TEXT NOT NULL, dtm INTEGER NOT NULL,
        json TEXT NOT NULL, bytes INTEGER NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, leased_until INTEGER NOT NULL DEFAULT 0);
      INSERT INTO snowplow_meta VALUES ('schema_version', '1');
      INSERT INTO snowplow_events (eid, dtm, json, bytes) VALUES ('c1', 1, '{"e":"ue","eid":"c1"}', 30);
      INSERT INTO snowplow_events (eid, dtm, json, bytes, attempts) VALUES ('b1', 2, '{"e":"se","eid":"b1"}', 30, 2);
    `);
    v1.close();
    const storage = new SqliteStorage({ path });
    expect([storage.sizeOf('billing'), storage.sizeOf('custom')]).toEqual([1, 1]);
    expect(storage.lease(10).map(({ eid, kind, attempts }) => ({ eid, kind, attempts }))).toEqual([
      { eid: 'b1', kind: 'billing', attempts: 2 },
      { eid: 'c1', kind: 'custom', attempts: 0 },
    ]);
    storage.close();
  });

  it('capacity bounds the rows in the file, in flight included: a restart never evicts what was in flight', () => {
    const first = new SqliteStorage({ path, capacity: 10 });
    first.addBatch(Array.from({ length: 10 }, (_, i) => event(i)));
    const inFlight = first.lease(4);
    // Four more arrive while four are in flight: the four oldest waiting ones make room.
    expect(first.addBatch([10, 11, 12, 13].map(event))).toBe(4);
    first.close(); // as if killed: the leases stay in the file
    const second = new SqliteStorage({ path, capacity: 10 });
    // What was in flight is back in the queue, oldest first, and nothing had to make room for it.
    expect(second.size).toBe(10);
    const all = second.lease(100).map((e) => e.eid);
    expect(all).toEqual([...inFlight.map((e) => e.eid), 'e8', 'e9', 'e10', 'e11', 'e12', 'e13']);
    second.close();
  });

  it('shared: the leases of a process that was killed go back to the queue at once, not after leaseTimeoutMs', async () => {
    const script = `
      const { SqliteStorage } = require('./lib/storage');
      const s = new SqliteStorage({ path: process.env.DB, shared: true });
      s.addBatch([1, 2, 3, 4, 5].map((n) => ({ kind: 'custom', eid: 'e' + n, dtm: n, json: '{}', bytes: 2, attempts: 0 })));
      s.lease(3);
      process.stdout.write('leased\\n');
      setInterval(() => undefined, 1 << 30);
    `;
    const child = spawn(process.execPath, ['-r', '@swc-node/register', '-e', script], {
      cwd: ROOT,
      env: { ...process.env, DB: path },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    const exited = new Promise((resolve) => child.on('exit', resolve));
    await waitFor(() => output.includes('leased'), { timeoutMs: 30_000, what: 'the child to lease' });
    const other = new SqliteStorage({ path, shared: true });
    expect(other.size).toBe(2); // three are leased by a live process
    child.kill('SIGKILL');
    await exited;
    await waitFor(() => other.size === 5, { timeoutMs: 5_000, what: "the dead process's leases to come back" });
    expect(other.lease(10).map((e) => e.eid)).toEqual(['e1', 'e2', 'e3', 'e4', 'e5']);
    other.close();
  });

  it('a second opener gets StorageLockedError unless both opt into sharing', () => {
    const owner = new SqliteStorage({ path });
    expect(() => new SqliteStorage({ path })).toThrow(StorageLockedError);
    expect(() => new SqliteStorage({ path })).toThrow(/in use by another process.*storage\.shared/);
    owner.close();
    const a = new SqliteStorage({ path: join(dir, 'shared.db'), shared: true });
    const b = new SqliteStorage({ path: join(dir, 'shared.db'), shared: true });
    a.add(event(1));
    b.add(event(2));
    expect([...take(a, 5), ...take(b, 5)].map((e) => e.eid).sort()).toEqual(['e1', 'e2']);
    a.close();
    b.close();
  });

  it('reports a corrupt file with StorageCorruptError and never deletes or changes it', () => {
    const garbage = Buffer.from('this is not a sqlite database, just some bytes '.repeat(200));
    writeFileSync(path, garbage);
    expect(() => new SqliteStorage({ path })).toThrow(StorageCorruptError);
    expect(() => new SqliteStorage({ path })).toThrow(/not a readable SQLite database.*left untouched/);
    expect(readFileSync(path).equals(garbage)).toBe(true);
  });

  it('tells the user to install better-sqlite3 when it is missing', () => {
    jest.isolateModules(() => {
      jest.doMock('better-sqlite3', () => {
        const error = new Error("Cannot find module 'better-sqlite3'") as NodeJS.ErrnoException;
        error.code = 'MODULE_NOT_FOUND';
        throw error;
      });

      const isolated = require('../../lib') as typeof import('../../lib');
      expect(() => new isolated.SqliteStorage({ path })).toThrow(isolated.MissingDependencyError);
      expect(() => new isolated.SqliteStorage({ path })).toThrow(
        'The durable SQLite event store needs the package "better-sqlite3", which is not installed: run `npm install better-sqlite3@12`',
      );
    });
    jest.dontMock('better-sqlite3');
    // Outside the isolated registry the real driver is still there.
    expect(() => new SqliteStorage({ path }).close()).not.toThrow(MissingDependencyError);
  });

  it('the file stays bounded: 30 rounds of 1,200 events into a capacity of 1,000 (the oldest 200 overwritten each round)', async () => {
    const collector = await TestCollector.start();
    const emitter = new Emitter({
      collectorUrl: collector.endpoint,
      storage: { type: 'sqlite', path, capacity: 1_000 },
      logger: quietLogger,
    });
    emitter.start();
    const tracker = new Tracker({ appId: 'bounded', emitter });
    let peak = 0;
    const newest: string[] = [];
    for (let round = 0; round < 30; round++) {
      // Requests wait at the collector until the round is tracked, so nothing leaves the file
      // meanwhile: 1,000 rows (in flight included) fill it, and 200 more push the oldest out.
      let release!: () => void;
      const gate = new Promise<void>((resolve) => (release = resolve));
      collector.behaviour = () => ({ status: 200, after: gate });
      const eids = Array.from(
        { length: 1_000 },
        (_, i) => tracker.trackEvent('bounded', { round, i, pad: 'x'.repeat(200) }).eid,
      );
      await nextTick(); // the first 1,000 are in the file
      eids.push(...Array.from({ length: 200 }, (_, i) => tracker.trackEvent('bounded', { round, i: 1_000 + i }).eid));
      await nextTick();
      peak = Math.max(peak, statSync(path).size + statSync(`${path}-wal`).size);
      release();
      await expect(emitter.drain(30_000)).resolves.toMatchObject({ sent: 1_000, drained: true });
      newest.push(...eids);
    }
    await emitter.stop();
    await collector.close();
    expect(emitter.stats().dropped.overflow).toBe(30 * 200);
    expect(collector.counts().accepted).toEqual({ total: 30_000, distinct: 30_000 });
    // 1,000 events of ~700 bytes is under 1 MB of rows; the file and its WAL stay within a few MB.
    expect(peak).toBeLessThan(12 * 1024 * 1024);
    expect(statSync(path).size).toBeLessThan(4 * 1024 * 1024);
  });
});

describe('durable delivery across crashes', () => {
  let collector: TestCollector;
  beforeEach(async () => {
    collector = await TestCollector.start();
  });
  afterEach(() => collector.close());

  function startChild(env: Record<string, string>) {
    const child = spawn(
      process.execPath,
      ['-r', '@swc-node/register', join(__dirname, '../fixtures/apps/durable-tracker.ts')],
      {
        cwd: ROOT,
        env: { ...process.env, COLLECTOR_URL: collector.endpoint, DB: path, OUT: join(dir, 'eids.txt'), ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
    const tracked = waitFor(() => output.includes('tracked'), {
      timeoutMs: 60_000,
      what: 'the child to track its events',
    });
    return { child, exited, tracked, output: () => output };
  }

  function resume() {
    const emitter = new Emitter({
      collectorUrl: collector.endpoint,
      storage: { type: 'sqlite', path },
      logger: quietLogger,
    });
    emitter.start();
    return emitter;
  }

  it('kill -9 mid-flight with the collector down: a new process delivers all 10,000 with the original eid and dtm', async () => {
    collector.behaviour = () => ({ hang: true });
    const { child, exited, tracked } = startChild({ EVENTS: '10000' });
    await tracked;
    await waitFor(() => collector.requests.length >= 1, { what: 'a request in flight' });
    const inFlight = JSON.parse(collector.requests[0].body).data as Array<{ eid: string; dtm: string }>;
    // While the child runs, the file is its own: another process cannot open it by accident.
    expect(() => new SqliteStorage({ path })).toThrow(StorageLockedError);
    child.kill('SIGKILL');
    await exited;

    collector.behaviour = () => ({ status: 200 });
    const emitter = resume();
    await collector.waitForEvents(10_000, 60_000);
    // Stop only once the emitter is idle: a stop while the last answers are on their way would
    // rightly leave their events in the file (at-least-once), which is not what this test is about.
    expect((await emitter.drain(30_000)).drained).toBe(true);
    await emitter.stop();
    const tracked10k = readFileSync(join(dir, 'eids.txt'), 'utf8').split('\n');
    const delivered = decodeAccepted(collector);
    expect(delivered).toHaveLength(10_000);
    expect(delivered.map((e) => e.eid).sort()).toEqual([...tracked10k].sort());
    const byEid = new Map(delivered.map((e) => [e.eid, e.raw]));
    for (const sent of inFlight) expect(byEid.get(sent.eid)?.dtm).toBe(sent.dtm);
    expect(delivered[0].eid).toBe(inFlight[0].eid);
    expect(new SqliteStorage({ path }).size).toBe(0);
  });

  it("a crash between the collector's 200 and the delete resends that batch with the same eids, never loses one", async () => {
    let killed = false;
    collector.behaviour = () => {
      if (!killed) {
        killed = true;
        child.child.kill('SIGKILL');
      }
      return { status: 200 };
    };
    const child = startChild({ EVENTS: '1000', BATCH: '100' });
    await child.tracked;
    await child.exited;
    const firstBatch = (JSON.parse(collector.requests[0].body).data as Array<{ eid: string }>).map((e) => e.eid);

    const emitter = resume();
    await waitFor(async () => (await emitter.drain(100)).drained && emitter.queueDepth === 0, {
      what: 'the outbox to empty',
    });
    await emitter.stop();
    const tracked = readFileSync(join(dir, 'eids.txt'), 'utf8').split('\n');
    const delivered = decodeAccepted(collector).map((e) => e.eid as string);
    expect(new Set(delivered)).toEqual(new Set(tracked));
    // Exactly the batch the collector took before the crash comes again, each of its events once more.
    expect(firstBatch).toHaveLength(100);
    expect(delivered).toHaveLength(1_000 + 100);
    const seen = new Map<string, number>();
    delivered.forEach((eid) => seen.set(eid, (seen.get(eid) ?? 0) + 1));
    expect(
      [...seen]
        .filter(([, n]) => n > 1)
        .map(([eid]) => eid)
        .sort(),
    ).toEqual([...firstBatch].sort());
    expect([...seen.values()].every((n) => n <= 2)).toBe(true);
  });
});
