// A shared outbox file used from two PID namespaces, as two containers on one host with a shared
// volume would: the second process runs under `unshare --pid --fork --mount-proc` (util-linux, as
// root), with a pid that no process of this namespace has. Its live leases must be respected:
// `kill(pid, 0)` from here cannot see it, so only the lease deadline may return its events.
import { spawn } from 'node:child_process';
import { mkdtempSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStorage } from '../../lib/core';
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
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function existsHere(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Runs `script` with node in a new PID namespace; resolves with what it printed once it says "leased". */
function runInOwnPidNamespace(script: string) {
  const shell =
    `echo ${CHILD_PID_FLOOR} > /proc/sys/kernel/ns_last_pid 2>/dev/null; ` +
    `"$0" -r @swc-node/register -e "$SCRIPT"; exit $?`;
  const child = spawn(
    'unshare',
    ['--pid', '--fork', '--mount-proc', '--kill-child', 'sh', '-c', shell, process.execPath],
    {
      cwd: ROOT,
      env: { ...process.env, DB: path, SCRIPT: script },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let stdout = '';
  let stderr = '';
  let exitCode: number | null | undefined;
  child.stdout.on('data', (chunk) => (stdout += chunk));
  child.stderr.on('data', (chunk) => (stderr += chunk));
  child.on('error', (err) => (stderr += String(err)));
  const exited = new Promise<void>((resolve) =>
    child.on('close', (code) => {
      exitCode = code;
      resolve();
    }),
  );
  const leased = waitFor(
    () => {
      if (exitCode !== undefined || stderr.includes('unshare:')) {
        throw new Error(
          `This test needs a second PID namespace: \`unshare --pid --fork --mount-proc\` failed (exit ${exitCode}: ` +
            `${stderr.trim()}). Run the tests as root (CI does), with util-linux installed.`,
        );
      }
      const match = /^leased (\d+) (\S+)$/m.exec(stdout);
      return match ? { pid: Number(match[1]), ns: match[2] } : undefined;
    },
    { timeoutMs: 60_000, what: 'the other namespace to lease' },
  );
  return { child, exited, leased };
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
    const other = runInOwnPidNamespace(script);
    const owner = await other.leased;
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
});
