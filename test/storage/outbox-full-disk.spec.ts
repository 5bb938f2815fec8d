// The SQLite outbox on a real full disk: a 300 KB tmpfs. A billing event is committed when
// trackBillingEvent returns, or the caller gets StorageFullError; after kill -9 every returned eid
// is in the file. Custom events whose end-of-tick write fails are kept in memory, counted, logged,
// retried, and dead-lettered when the process exits with the disk still full. Stats, the metric
// and the health indicator show a store that refuses writes.
import { ChildProcess, spawn } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  truncateSync,
  unlinkSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Controller, Get, Module } from '@nestjs/common';
import { HealthCheck, HealthCheckService, TerminusModule } from '@nestjs/terminus';
import { Registry } from 'prom-client';
import request from 'supertest';
import {
  Emitter,
  EmitterMetrics,
  SnowplowModule,
  SqliteStorage,
  StorageFullError,
  Tracker,
  TrackerService,
} from '../../lib';
import { SnowplowHealthIndicator } from '../../lib/health';
import { startLocalCollector } from '../../lib/testing/local-collector';
import { createApp } from '../support/nest';
import { waitFor } from '../support/wait-for';
import { nextTick, queued } from './support/events';
import { fillDisk, mountTmpfs, unmountTmpfs } from './support/tmpfs';

const ROOT = join(__dirname, '../..');
type Driver = typeof import('better-sqlite3');
const openRaw = (path: string) => new (require('better-sqlite3') as Driver)(path);
const billingInput = {
  category: 'full_disk',
  eventType: 'tokens',
  unitOfMeasure: 'token',
  realm: 'SM' as const,
  quantity: 1,
};

let disk: string | undefined;
let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'snowplow-full-disk-files-'));
});
/** Children still running when a test fails are killed before the disk is unmounted. */
const running: ChildProcess[] = [];
afterEach(() => {
  for (const child of running.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
  unmountTmpfs(disk);
  disk = undefined;
  rmSync(dir, { recursive: true, force: true });
});

function runChild(env: Record<string, string>) {
  const child = spawn(
    process.execPath,
    ['-r', '@swc-node/register', join(__dirname, '../fixtures/apps/full-disk-tracker.ts')],
    {
      cwd: ROOT,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  running.push(child);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => (stdout += chunk));
  child.stderr.on('data', (chunk) => (stderr += chunk));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const line = () =>
    waitFor(() => (stdout.includes('\n') ? JSON.parse(stdout.split('\n')[0]) : undefined), {
      timeoutMs: 120_000,
      what: `the child's report (stderr: ${stderr.slice(-500)})`,
    });
  return { child, exited, line, stderr: () => stderr };
}

/** The eids in an outbox file, read from a copy (the full disk has no room for a reader's -shm). */
function eidsInFile(path: string): Set<string> {
  const copy = join(dir, 'copy.db');
  copyFileSync(path, copy);
  if (existsSync(`${path}-wal`)) copyFileSync(`${path}-wal`, `${copy}-wal`);
  const raw = openRaw(copy);
  const eids = raw.prepare('SELECT eid FROM snowplow_events').pluck().all() as string[];
  raw.close();
  return new Set(eids);
}

describe('billing events on a full disk', () => {
  it('2,000 calls: each returns an eid that is in the file after kill -9, or throws StorageFullError', async () => {
    disk = mountTmpfs('300k');
    const db = join(disk, 'outbox.db');
    const out = join(dir, 'eids.txt');
    const child = runChild({ MODE: 'billing', DB: db, OUT: out, EVENTS: '2000' });
    const report = await child.line();
    child.child.kill('SIGKILL');
    await child.exited;

    const returned = readFileSync(out, 'utf8').split('\n').filter(Boolean);
    expect(report.returned).toBe(returned.length);
    // The disk filled up: the calls it refused threw, and only those.
    expect(report.returned).toBeGreaterThan(0);
    expect(report.errors).toEqual({ 'StorageFullError STORAGE_FULL': 2_000 - report.returned });
    expect(report.queued).toBe(report.returned);
    expect(report.storageErrors).toBe(2_000 - report.returned);
    expect(report.storageError).toMatch(
      /^Snowplow event store .*outbox\.db: cannot write a billing event: the disk is full/,
    );
    expect(child.stderr()).toContain('could not write a billing event to the event store: Snowplow event store');
    // After kill -9, every eid that was returned is in the file.
    const inFile = eidsInFile(db);
    expect(returned.filter((eid) => !inFile.has(eid))).toEqual([]);
    expect(inFile.size).toBe(returned.length);
  });

  it('counts each refused commit in snowplow_storage_errors_total{op="commit"}, and a freed disk takes the next one', async () => {
    disk = mountTmpfs('300k');
    const registry = new Registry();
    const metrics = new EmitterMetrics({ registry });
    const emitter = new Emitter({
      collectorUrl: 'http://127.0.0.1:9/tp2',
      storage: { type: 'sqlite', path: join(disk, 'outbox.db') },
      observer: metrics,
      logger: { warn: () => undefined, error: () => undefined },
    });
    const tracker = new Tracker({ appId: 'full', emitter });
    const filler = fillDisk(disk);
    let thrown: unknown;
    for (let i = 0; i < 100 && thrown === undefined; i++) {
      try {
        tracker.trackBillingEvent(billingInput);
      } catch (err) {
        thrown = err;
      }
    }
    expect(thrown).toBeInstanceOf(StorageFullError);
    expect((thrown as StorageFullError).code).toBe('STORAGE_FULL');
    const refused = emitter.stats().storageErrors;
    expect(refused).toBeGreaterThanOrEqual(1);
    expect(emitter.stats().storageError).toMatch(/the disk is full/);
    const series = async () =>
      (
        (await registry.getSingleMetric('snowplow_storage_errors_total')!.get()).values as Array<{
          labels: Record<string, string>;
          value: number;
        }>
      ).map((v) => [v.labels.op, v.value]);
    expect(await series()).toEqual(
      expect.arrayContaining([
        ['commit', refused],
        ['flush', 0],
        ['lease', 0],
      ]),
    );
    unlinkSync(filler);
    const { eid } = tracker.trackBillingEvent(billingInput);
    expect(typeof eid).toBe('string');
    expect(emitter.stats().storageError).toBeUndefined();
    await emitter.stop();
    metrics.detach();
  });
});

describe('custom events on a full disk', () => {
  it('a failed end-of-tick write keeps them in memory, is counted, logged and retried until the disk has room', async () => {
    disk = mountTmpfs('300k');
    const path = join(disk, 'outbox.db');
    const errors: string[] = [];
    const registry = new Registry();
    const metrics = new EmitterMetrics({ registry });
    // Shared, so that this test can read the file while the emitter has it open.
    const emitter = new Emitter({
      collectorUrl: 'http://127.0.0.1:9/tp2',
      storage: { type: 'sqlite', path, shared: true },
      observer: metrics,
      logger: { warn: () => undefined, error: (m) => errors.push(m) },
    });
    const tracker = new Tracker({ appId: 'full', emitter });
    const filler = fillDisk(disk);
    const eids = Array.from({ length: 20 }, (_, i) => tracker.trackEvent('kept', { i }).eid);
    // Retried with a backoff: a second failure comes without any new event.
    const flushFailures = async () =>
      (
        (await registry.getSingleMetric('snowplow_storage_errors_total')!.get()).values as Array<{
          labels: Record<string, string>;
          value: number;
        }>
      ).find((v) => v.labels.op === 'flush')?.value ?? 0;
    await waitFor(async () => (await flushFailures()) >= 2, { timeoutMs: 10_000, what: 'two failed writes' });
    expect(emitter.stats().custom.queued).toBe(20);
    expect(emitter.stats().storageError).toMatch(/cannot write events: the disk is full/);
    expect(errors[0]).toMatch(
      /^could not write tracked events to the event store: Snowplow event store .*: cannot write events: the disk is full .*; they are kept in memory and written again$/,
    );
    // Freed: the next retry writes them.
    unlinkSync(filler);
    const raw = openRaw(path);
    const inFile = () => raw.prepare('SELECT eid FROM snowplow_events ORDER BY seq').pluck().all();
    await waitFor(() => inFile().length === 20, { timeoutMs: 15_000, what: 'the retry to write the events' });
    expect(inFile()).toEqual(eids);
    expect(emitter.stats().storageError).toBeUndefined();
    raw.close();
    await emitter.stop();
    metrics.detach();
  });

  it('stop() with the disk still full dead-letters what could not be written, and the log says so', async () => {
    disk = mountTmpfs('300k');
    const deadLetters = join(dir, 'dead.jsonl');
    const errors: string[] = [];
    const emitter = new Emitter({
      collectorUrl: 'http://127.0.0.1:9/tp2',
      storage: { type: 'sqlite', path: join(disk, 'outbox.db') },
      deadLetter: { path: deadLetters },
      logger: { warn: () => undefined, error: (m) => errors.push(m) },
    });
    const tracker = new Tracker({ appId: 'full', emitter });
    fillDisk(disk);
    const eids = Array.from({ length: 5 }, (_, i) => tracker.trackEvent('kept', { i }).eid);
    await waitFor(() => emitter.stats().storageErrors >= 1, { what: 'the failed write' });
    await emitter.stop();
    const lines = readFileSync(deadLetters, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l));
    expect(lines.map((l) => [l.eid, l.reason])).toEqual(eids.map((eid) => [eid, 'shutdown']));
    expect(emitter.stats().dropped.shutdown).toBe(5);
    expect(errors).toContainEqual(
      expect.stringMatching(
        /^5 events \(0 billing\) could not be written to the event store at shutdown .*the disk is full.*; dead-lettered to /,
      ),
    );
  });

  it('the process exits with the disk still full: what could not be written is dead-lettered, and the log says so', async () => {
    disk = mountTmpfs('300k');
    const deadLetters = join(dir, 'dead.jsonl');
    const child = runChild({
      MODE: 'custom',
      DB: join(disk, 'outbox.db'),
      FILLER: join(disk, 'filler'),
      DEAD_LETTERS: deadLetters,
      EVENTS: '20',
    });
    const report = await child.line();
    expect(await child.exited).toBe(0);
    expect(report.queued).toBe(20);
    const lines = readFileSync(deadLetters, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l));
    expect(lines.map((l) => l.eid)).toEqual(report.eids);
    expect(lines.every((l) => l.reason === 'shutdown' && l.kind === 'custom')).toBe(true);
    expect(lines[0].error).toMatch(/^the event store refused the write at shutdown: .*the disk is full/);
    expect(child.stderr()).toMatch(
      new RegExp(
        `20 events \\(0 billing\\) could not be written to the event store at shutdown .*; dead-lettered to ${deadLetters}`,
      ),
    );
  });
});

describe('events already in the file while custom events cannot be written', () => {
  it('are sent and deleted with the disk still full; the custom events follow once it has room', async () => {
    disk = mountTmpfs('1m');
    const collector = await startLocalCollector();
    const registry = new Registry();
    const metrics = new EmitterMetrics({ registry });
    const errors: string[] = [];
    const emitter = new Emitter({
      collectorUrl: collector.endpoint,
      storage: { type: 'sqlite', path: join(disk, 'outbox.db') },
      backoff: { baseMs: 5, capMs: 20 },
      lingerMs: 0,
      observer: metrics,
      logger: { warn: () => undefined, error: (m) => errors.push(m) },
    });
    try {
      const tracker = new Tracker({ appId: 'full', emitter });
      const billing = Array.from({ length: 30 }, () => tracker.trackBillingEvent(billingInput).eid);
      // Nearly full: room for a lease's and a delete's few pages, not for 150 KB of custom events.
      const filler = fillDisk(disk);
      truncateSync(filler, statSync(filler).size - 64 * 1024);
      const big = 'x'.repeat(3_000);
      const custom = Array.from({ length: 50 }, (_, i) => tracker.trackEvent('pending', { i, big }).eid);
      await waitFor(() => emitter.stats().storageErrors >= 1, { timeoutMs: 10_000, what: 'the failed write' });
      expect(emitter.stats().storageError).toMatch(/cannot write events: the disk is full/);

      // The disk is still full: the billing rows already in the file reach the collector.
      emitter.start();
      await collector.waitForEvents(30, 15_000);
      const sent = () => new Set(collector.events().map((e) => e.eid));
      expect(sent()).toEqual(new Set(billing));
      await waitFor(() => emitter.stats().billing.queued === 0, { timeoutMs: 10_000, what: 'the acks' });
      expect(emitter.stats().custom.queued).toBe(50);
      // The leases and deletes succeeded, but the store still refuses the pending events.
      expect(emitter.stats().storageError).toMatch(/cannot write events: the disk is full/);
      const byOp = async () =>
        Object.fromEntries(
          (
            (await registry.getSingleMetric('snowplow_storage_errors_total')!.get()).values as Array<{
              labels: Record<string, string>;
              value: number;
            }>
          ).map((v) => [v.labels.op, v.value]),
        );
      // The refused write is the background write's, retried with its backoff: never the lease's.
      expect(await byOp()).toEqual(expect.objectContaining({ lease: 0, release: 0, ack: 0, commit: 0 }));
      expect((await byOp()).flush).toBe(emitter.stats().storageErrors);

      // Room again: the retry writes the custom events, and they are sent too.
      unlinkSync(filler);
      // The store retries the write with its own backoff (up to 5 s between tries): a loaded machine needs the margin.
      await collector.waitForEvents(80, 30_000);
      expect(sent()).toEqual(new Set([...billing, ...custom]));
      expect(emitter.stats().storageError).toBeUndefined();
      expect(errors.filter((m) => !m.startsWith('could not write tracked events to the event store'))).toEqual([]);
    } finally {
      await emitter.stop();
      metrics.detach();
      await collector.close();
    }
  });
});

describe('a retried write after a full disk', () => {
  it("first gives back the WAL's space: the events are written, leased and deleted once the disk has room for them", async () => {
    disk = mountTmpfs('1m');
    const path = join(disk, 'outbox.db');
    const storage = new SqliteStorage({ path });
    const failures: string[] = [];
    storage.onFailure({ failed: (op, e) => failures.push(`${op}: ${e.message}`), unwritten: () => undefined });
    // Billing events added, leased and deleted one at a time: none stays in the file, but each
    // transaction's pages go to the WAL, which no checkpoint has emptied yet (640 KB of the 1 MB).
    for (let i = 0; statSync(`${path}-wal`).size < 640 * 1024; i++) {
      storage.add(queued('billing', i));
      storage.ack(storage.lease(1));
    }
    expect(storage.size).toBe(0);
    const filler = fillDisk(disk);
    const json = JSON.stringify({ big: 'x'.repeat(3_000) });
    const custom = Array.from({ length: 50 }, (_, i) => queued('custom', i, { json, bytes: json.length }));
    storage.addBatch(custom);
    await nextTick();
    expect(failures).toEqual([expect.stringMatching(/^flush: .*cannot write events: the disk is full/)]);

    // Room for the 150 KB of events, their lease and their delete, not for a WAL that keeps growing.
    unlinkSync(filler);
    await waitFor(() => storage.writeError === undefined, { timeoutMs: 10_000, what: 'the retried write' });
    const leased = storage.lease(100);
    expect(leased.map((e) => e.eid)).toEqual(custom.map((e) => e.eid));
    storage.ack(leased);
    expect(storage.size).toBe(0);
    expect(failures).toHaveLength(1);
    storage.close();
    expect(eidsInFile(path).size).toBe(0);
  });
});

describe('reclaiming space after an ack', () => {
  it('a full disk refusing the vacuum after the delete committed: the ack succeeds, the failure is told once', async () => {
    disk = mountTmpfs('32m');
    const path = join(disk, 'outbox.db');
    // 20 KB rows (overflow pages): billing rows first in the file, custom rows behind them, so that
    // the vacuum after deleting the billing rows has to move the custom rows' 2 MB of pages.
    const json = JSON.stringify({ x: 'x'.repeat(20_000) });
    const row = (kind: 'billing' | 'custom', n: number) => queued(kind, n, { json, bytes: json.length });
    const setup = new SqliteStorage({ path, capacity: 100 });
    setup.addBatch(Array.from({ length: 100 }, (_, i) => row('billing', i)));
    setup.addBatch(Array.from({ length: 100 }, (_, i) => row('custom', i)));
    await nextTick();
    setup.close(); // checkpoints and truncates the WAL: its next frames need new room on the disk
    const storage = new SqliteStorage({ path, capacity: 100 });
    const failures: string[] = [];
    storage.onFailure({ failed: (op, e) => failures.push(`${op}: ${e.message}`), unwritten: () => undefined });
    const leased = storage.lease(100);
    expect(leased.every((e) => e.kind === 'billing')).toBe(true);
    // Room for the delete's few pages, not for the vacuum's.
    const filler = fillDisk(disk);
    truncateSync(filler, statSync(filler).size - 256 * 1024);

    expect(() => storage.ack(leased)).not.toThrow();
    expect(failures).toEqual([
      `ack: Snowplow event store ${path}: cannot reclaim the space of delivered events (they were deleted; tried again later): the disk is full (database or disk is full)`,
    ]);
    expect(storage.writeError).toBeUndefined();
    expect(storage.sizeOf('billing')).toBe(0);
    // The ack told again (as after a failure) deletes nothing more and leaves the counts alone.
    storage.ack(leased);
    expect(failures).toHaveLength(1);
    expect(storage.size).toBe(100);
    unlinkSync(filler);
    expect(storage.lease(200).map((e) => e.eid)).toEqual(Array.from({ length: 100 }, (_, i) => `c${i}`));
    storage.close();
    expect([...eidsInFile(path)].sort()).toEqual(Array.from({ length: 100 }, (_, i) => `c${i}`).sort());
  });
});

describe('the health indicator', () => {
  it('is down while the event store refuses writes, and up again once a write succeeds', async () => {
    disk = mountTmpfs('300k');
    @Controller('health')
    class HealthController {
      constructor(
        private readonly health: HealthCheckService,
        private readonly snowplow: SnowplowHealthIndicator,
      ) {}
      @Get()
      @HealthCheck()
      check() {
        return this.health.check([() => this.snowplow.isHealthy('snowplow')]);
      }
    }
    @Module({ imports: [TerminusModule], controllers: [HealthController], providers: [SnowplowHealthIndicator] })
    class HealthModule {}
    const app = await createApp({
      imports: [
        SnowplowModule.forRoot({
          collectorUrl: 'http://127.0.0.1:9/tp2',
          appId: 'health',
          metrics: false,
          isGlobal: true,
          shutdownTimeoutMs: 100,
          storage: { type: 'sqlite', path: join(disk, 'outbox.db') },
        }),
        HealthModule,
      ],
    });
    try {
      const tracker = app.get(TrackerService);
      const filler = fillDisk(disk);
      expect(() => {
        for (let i = 0; i < 100; i++) tracker.trackBillingEvent(billingInput);
      }).toThrow(StorageFullError);
      const down = await request(app.getHttpServer()).get('/health');
      expect(down.status).toBe(503);
      expect(down.body.error.snowplow.reason).toMatch(
        /^the event store refuses writes: Snowplow event store .*the disk is full/,
      );
      expect(down.body.error.snowplow.storageErrors).toBeGreaterThanOrEqual(1);
      unlinkSync(filler);
      tracker.trackBillingEvent(billingInput);
      const up = await request(app.getHttpServer()).get('/health');
      expect(up.status).toBe(200);
      expect(up.body.info.snowplow.storageError).toBeNull();
    } finally {
      await app.close();
    }
  });
});
