// A shared outbox file used from two PID namespaces, as two containers on one host with a shared
// volume would: the second process runs under `unshare --pid --fork --mount-proc` (util-linux, as
// root), with a pid that no process of this namespace has. Its live leases must be respected:
// `kill(pid, 0)` from here cannot see it, so only the lease deadline may return its events.
import { ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Emitter, SqliteStorage } from '../../lib/core';
import { startLocalCollector } from '../../lib/testing/local-collector';
import { waitFor } from '../support/wait-for';

const ROOT = join(__dirname, '../..');
/** The pid the child gets in its namespace: far above this namespace's pids. */
const CHILD_PID_FLOOR = 3_999_990;
const CHILD_LEASE_MS = 4_000;

let dir: string;
let path: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'snowplow-namespaces-'));
  path = join(dir, 'outbox.db');
});
/** Children still running when a test fails are killed (unshare --kill-child takes the namespace with it). */
const running: ChildProcess[] = [];
afterEach(() => {
  for (const child of running.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

function existsHere(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Runs node with `args` in a new PID namespace; `printed(re)` waits for a line matching `re` in
 * its output (and fails with a message saying so if unshare is refused).
 */
function runInOwnPidNamespace(args: string[], env: Record<string, string> = {}) {
  const shell = `echo ${CHILD_PID_FLOOR} > /proc/sys/kernel/ns_last_pid 2>/dev/null; "$0" "$@"; exit $?`;
  const child = spawn(
    'unshare',
    [
      '--pid',
      '--fork',
      '--mount-proc',
      '--kill-child',
      'sh',
      '-c',
      shell,
      process.execPath,
      '-r',
      '@swc-node/register',
      ...args,
    ],
    { cwd: ROOT, env: { ...process.env, DB: path, ...env }, stdio: ['pipe', 'pipe', 'pipe'] },
  );
  running.push(child);
  let stdout = '';
  let stderr = '';
  let exitCode: number | null | undefined;
  child.stdout.on('data', (chunk) => (stdout += chunk));
  child.stderr.on('data', (chunk) => (stderr += chunk));
  child.on('error', (err) => (stderr += String(err)));
  const exited = new Promise<number | null>((resolve) =>
    child.on('close', (code) => {
      exitCode = code;
      resolve(code);
    }),
  );
  const printed = (re: RegExp) =>
    waitFor(
      () => {
        const match = re.exec(stdout);
        if (match) return match;
        if (exitCode !== undefined || stderr.includes('unshare:')) {
          throw new Error(
            `This test needs a second PID namespace: \`unshare --pid --fork --mount-proc\` failed or its node ` +
              `ended (exit ${exitCode}: ${stderr.trim()}). Run the tests as root (CI does), with util-linux installed.`,
          );
        }
        return undefined;
      },
      { timeoutMs: 60_000, what: `the other namespace to print ${re}` },
    );
  return { child, exited, printed };
}

describe('a shared file used from another PID namespace', () => {
  it("respects the other namespace's live leases (no duplicates), and takes them back only after their deadline", async () => {
    const script = `
      const { readlinkSync } = require('node:fs');
      const { SqliteStorage } = require('./lib/storage');
      const s = new SqliteStorage({ path: process.env.DB, shared: true, leaseTimeoutMs: ${CHILD_LEASE_MS} });
      s.addBatch([1, 2, 3, 4, 5].map((n) => ({ kind: 'billing', eid: 'e' + n, dtm: n, json: '{}', bytes: 2, attempts: 0 })));
      s.lease(3);
      process.stdout.write('leased ' + process.pid + ' ' + readlinkSync('/proc/self/ns/pid') + '\\n');
      setInterval(() => undefined, 1 << 30);
    `;
    const other = runInOwnPidNamespace(['-e', script]);
    const [, pid, ns] = await other.printed(/^leased (\d+) (\S+)$/m);
    const owner = { pid: Number(pid), ns };
    // The point of the test: from here, the owner's pid names no process (or, with the old
    // check, a live lease would look dead).
    expect(owner.ns).not.toBe(readlinkSync('/proc/self/ns/pid'));
    expect(existsHere(owner.pid)).toBe(false);

    const here = new SqliteStorage({ path, shared: true });
    expect(here.size).toBe(2);
    expect(here.lease(10).map((e) => e.eid)).toEqual(['e4', 'e5']);
    other.child.kill('SIGKILL');
    await other.exited;
    // Its process is gone, but from here that cannot be told: its events come back at the deadline.
    await waitFor(() => here.size === 3, { timeoutMs: 30_000, what: "the other namespace's leases to expire" });
    expect(here.lease(10).map((e) => e.eid)).toEqual(['e1', 'e2', 'e3']);
    here.close();
  });

  it('two emitters, one in another PID namespace, deliver every event once while requests take longer than a poll', async () => {
    const collector = await startLocalCollector();
    // Each answer takes 2.5 s: the other's batches stay in flight across this emitter's polls (1 s).
    collector.behaviour = () => ({ status: 200, after: new Promise((resolve) => setTimeout(resolve, 2_500)) });
    try {
      const other = runInOwnPidNamespace([join(__dirname, '../fixtures/apps/shared-outbox.ts')], {
        NAME: 'other',
        EVENTS: '300',
        COLLECTOR_URL: collector.endpoint,
      });
      await other.printed(/^tracked$/m);
      const here = new Emitter({
        collectorUrl: collector.endpoint,
        storage: { type: 'sqlite', path, shared: true },
        batchSize: 100,
        maxConcurrentRequests: 1,
        requestTimeoutMs: 60_000,
        logger: { warn: () => undefined, error: () => undefined },
      });
      here.start();
      await waitFor(() => collector.counts().accepted.distinct === 300, {
        timeoutMs: 60_000,
        what: 'all 300 events to be delivered',
      });
      other.child.stdin.write('drain\n');
      expect(await other.exited).toBe(0);
      expect((await here.drain(30_000)).drained).toBe(true);
      await here.stop();
      expect(collector.counts().accepted).toEqual({ total: 300, distinct: 300 });
    } finally {
      await collector.close();
    }
  });
});
