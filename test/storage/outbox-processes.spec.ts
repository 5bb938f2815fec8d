// The SQLite outbox across real processes: crashes (kill -9 mid-flight, between the collector's
// 2xx and the delete), a shared file whose leasing process was killed, and a file shared by two
// live processes. Child processes run test/fixtures/apps/*.ts with @swc-node/register.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Emitter, SqliteStorage, StorageLockedError } from '../../lib/core';
import { decodeAccepted } from '../support/decode';
import { quietLogger } from '../support/emitter-harness';
import { LocalCollector, startLocalCollector } from '../../lib/testing/local-collector';
import { waitFor } from '../support/wait-for';

const ROOT = join(__dirname, '../..');

let dir: string;
let path: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'snowplow-processes-'));
  path = join(dir, 'outbox.db');
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('a shared file whose leasing process was killed', () => {
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
});

describe('durable delivery across crashes', () => {
  let collector: LocalCollector;
  beforeEach(async () => {
    collector = await startLocalCollector();
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
      // One request at a time: the order in which batches arrive is the order they were leased.
      maxConcurrentRequests: 1,
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

describe('a file shared by two real processes', () => {
  let collector: LocalCollector;
  beforeEach(async () => {
    collector = await startLocalCollector();
  });
  afterEach(() => collector.close());

  function startChild(name: string, events: number) {
    const child = spawn(
      process.execPath,
      ['-r', '@swc-node/register', join(ROOT, 'test/fixtures/apps/shared-outbox.ts')],
      {
        cwd: ROOT,
        env: { ...process.env, COLLECTOR_URL: collector.endpoint, DB: path, NAME: name, EVENTS: String(events) },
        stdio: ['pipe', 'pipe', 'pipe'],
      },
    );
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    return { child, exited, output: () => output };
  }

  it('each event is delivered exactly once, whichever process sends it, and the file ends empty', async () => {
    // Requests are held until both processes have tracked, so both send from the shared file at once.
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    collector.behaviour = () => ({ status: 200, after: gate });
    const a = startChild('a', 2_000);
    const b = startChild('b', 2_000);
    for (const child of [a, b]) {
      await waitFor(() => child.output().includes('tracked'), {
        timeoutMs: 60_000,
        what: `the child to track (output: ${child.output()})`,
      });
    }
    await waitFor(() => new Set(collector.requests.map((r) => r.headers['x-sender'])).size === 2, {
      timeoutMs: 30_000,
      what: 'a request from each process',
    });
    release();
    for (const child of [a, b]) child.child.stdin.end('drain\n');
    expect(await a.exited).toBe(0);
    expect(await b.exited).toBe(0);

    const tracked = readFileSync(join(dir, 'a.eids'), 'utf8')
      .split('\n')
      .concat(readFileSync(join(dir, 'b.eids'), 'utf8').split('\n'));
    expect(collector.counts().stored).toEqual({ total: 4_000, distinct: 4_000 });
    expect(new Set(collector.events().map((e) => e.eid))).toEqual(new Set(tracked));
    // Both processes sent from the one file.
    expect(new Set(collector.accepted().map((r) => r.headers['x-sender']))).toEqual(new Set(['a', 'b']));
    const reopened = new SqliteStorage({ path, shared: true });
    expect(reopened.size).toBe(0);
    reopened.close();
  });
});
