// A shared SQLite outbox whose write lock another process holds (a child in BEGIN IMMEDIATE): a
// billing track call waits at most lockTimeoutMs (50 ms by default), then throws StorageBusyError
// instead of blocking the event loop for seconds and returning an eid that was never written.
// After kill -9 of the tracking process, every eid it returned is in the file.
import { ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InvalidOptionError, SqliteStorage, StorageBusyError } from '../../lib/core';
import { waitFor } from '../support/wait-for';
import { billingEvent as billing } from './support/events';

const ROOT = join(__dirname, '../..');
type Driver = typeof import('better-sqlite3');
const openRaw = (path: string) => new (require('better-sqlite3') as Driver)(path);

let dir: string;
let path: string;
const children: ChildProcess[] = [];
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'snowplow-lock-'));
  path = join(dir, 'outbox.db');
});
afterEach(() => {
  for (const child of children.splice(0)) child.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

function start(args: string[], env: Record<string, string> = {}) {
  const child = spawn(process.execPath, ['-r', '@swc-node/register', ...args], {
    cwd: ROOT,
    env: { ...process.env, DB: path, ...env },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  children.push(child);
  let lines: string[] = [];
  let partial = '';
  child.stdout!.on('data', (chunk) => {
    const parts = (partial + chunk).split('\n');
    partial = parts.pop()!;
    lines.push(...parts);
  });
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  /** The next line the child prints. */
  const next = async (what: string) => {
    const line = await waitFor(() => lines[0], { timeoutMs: 60_000, what });
    lines = lines.slice(1);
    return line;
  };
  return { child, exited, next };
}

/** A second process that holds the file's write lock (BEGIN IMMEDIATE) until it is killed. */
async function holdLock() {
  const script = `
    const db = new (require('better-sqlite3'))(process.env.DB);
    db.exec('BEGIN IMMEDIATE');
    process.stdout.write('locked\\n');
    setInterval(() => undefined, 1 << 30);
  `;
  const holder = start(['-e', script]);
  expect(await holder.next('the lock holder')).toBe('locked');
  return holder;
}

describe('a shared outbox whose write lock another process holds', () => {
  it('trackBillingEvent throws StorageBusyError within the lock bound; after kill -9 every returned eid is in the file', async () => {
    const out = join(dir, 'eids.txt');
    const tracker = start([join(__dirname, '../fixtures/apps/locked-tracker.ts')], { OUT: out });
    expect(await tracker.next('the tracker to start')).toBe('ready');
    const track = async (n: number) => {
      tracker.child.stdin!.write(`track ${n}\n`);
      return JSON.parse(await tracker.next(`the tracker to track ${n}`));
    };
    expect(await track(5)).toMatchObject({ returned: 5, errors: [] });

    const holder = await holdLock();
    const blocked = await track(3);
    expect(blocked.returned).toBe(0);
    expect(blocked.errors).toHaveLength(3);
    for (const error of blocked.errors) {
      expect(error).toMatch(
        /^StorageBusyError STORAGE_BUSY: Snowplow event store .*outbox\.db: cannot write a billing event: another process held the file's lock longer than 50 ms \(storage\.lockTimeoutMs\)/,
      );
    }
    // 50 ms by default; a generous bound for a loaded machine, far below the 5 s of old.
    expect(blocked.longestMs).toBeLessThan(1_500);
    expect(blocked.storageErrors).toBe(3);
    expect(blocked.storageError).toMatch(/cannot write a billing event: another process held the file's lock/);

    holder.child.kill('SIGKILL');
    await holder.exited;
    expect(await track(5)).toMatchObject({ returned: 5, errors: [], storageErrors: 3 });
    tracker.child.kill('SIGKILL');
    await tracker.exited;

    const returned = readFileSync(out, 'utf8').split('\n').filter(Boolean);
    expect(returned).toHaveLength(10);
    const raw = openRaw(path);
    const inFile = raw.prepare("SELECT eid FROM snowplow_events WHERE kind = 'billing' ORDER BY seq").pluck().all();
    raw.close();
    expect(inFile).toEqual(returned);
  });

  it('lockTimeoutMs sets the bound: 0 gives up at once, and a longer wait is honoured', async () => {
    // Opened before the lock is taken (opening waits 5 s at least: it is startup, not a track call).
    const storages = {
      0: new SqliteStorage({ path, shared: true, lockTimeoutMs: 0 }),
      400: new SqliteStorage({ path, shared: true, lockTimeoutMs: 400 }),
    };
    const holder = await holdLock();
    const timed = (lockTimeoutMs: 0 | 400) => {
      const storage = storages[lockTimeoutMs];
      const started = performance.now();
      let err: unknown;
      try {
        storage.add(billing(1));
      } catch (caught) {
        err = caught;
      }
      const ms = performance.now() - started;
      storage.close();
      return { err, ms };
    };
    const now = timed(0);
    expect(now.err).toBeInstanceOf(StorageBusyError);
    expect(now.ms).toBeLessThan(1_000);
    const longer = timed(400);
    expect(longer.err).toBeInstanceOf(StorageBusyError);
    expect((longer.err as Error).message).toContain('longer than 400 ms (storage.lockTimeoutMs)');
    expect(longer.ms).toBeGreaterThanOrEqual(390);
    holder.child.kill('SIGKILL');
    await holder.exited;
  });

  it.each<[unknown, string]>([
    [-1, 'must be an integer from 0 to 5000 (ms)'],
    [5_001, 'must be an integer from 0 to 5000 (ms)'],
    [1.5, 'must be an integer from 0 to 5000 (ms)'],
    ['50', 'must be an integer from 0 to 5000 (ms)'],
  ])('refuses lockTimeoutMs %p', (lockTimeoutMs, reason) => {
    const build = () => new SqliteStorage({ path, shared: true, lockTimeoutMs: lockTimeoutMs as number });
    expect(build).toThrow(InvalidOptionError);
    expect(build).toThrow(`Invalid Snowplow option "storage.lockTimeoutMs": ${reason}`);
  });
});
