// A SQLite outbox file shared by several connections (storage.shared: true), each one a process
// as far as the file can tell: counts read from the file, leases of processes that are gone,
// evictions when the others filled the file, and a writer that holds the lock.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { QueuedEvent, SqliteStorage, StorageError } from '../../lib/core';
import { leaseOwner } from '../../lib/storage/lease-owner';
import { billingEvent as billing, customEvent as custom, nextTick } from './support/events';

const eids = (events: QueuedEvent[]) => events.map((e) => e.eid);
type Driver = typeof import('better-sqlite3');
const openRaw = (path: string) => new (require('better-sqlite3') as Driver)(path);
/** Above Linux's pid_max (2^22): no process has it. */
const DEAD_PID = 4_194_305;
/** init: always there (for a user other than root, kill(1, 0) fails with EPERM, which still means it exists). */
const LIVE_PID = 1;

let dir: string;
let path: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'snowplow-shared-'));
  path = join(dir, 'outbox.db');
});
afterEach(() => {
  jest.useRealTimers();
  rmSync(dir, { recursive: true, force: true });
});

/**
 * Marks rows leased by `pid` until an hour from now, as that process's lease would: a process of
 * this PID namespace and boot unless `owner` says otherwise.
 */
function leaseAs(pid: number, eidsToLease: string[], owner: { ns: string; boot: string } = leaseOwner()) {
  const raw = openRaw(path);
  const mark = raw.prepare(
    'UPDATE snowplow_events SET leased_until = ?, leased_by = ?, leased_ns = ?, leased_boot = ? WHERE eid = ?',
  );
  for (const eid of eidsToLease) mark.run(Date.now() + 3_600_000, pid, owner.ns, owner.boot, eid);
  raw.close();
}

function leasesInFile(): Array<{ eid: string; leased_by: number }> {
  const raw = openRaw(path);
  const rows = raw
    .prepare('SELECT eid, leased_by FROM snowplow_events WHERE leased_until > ? ORDER BY seq')
    .all(Date.now());
  raw.close();
  return rows as Array<{ eid: string; leased_by: number }>;
}

describe('a shared SQLite file', () => {
  it('asks the emitter to poll it every second; a file of its own is never polled', () => {
    const shared = new SqliteStorage({ path, shared: true });
    expect(shared.pollIntervalMs).toBe(1_000);
    shared.close();
    const own = new SqliteStorage({ path: join(dir, 'own.db') });
    expect(own.pollIntervalMs).toBeUndefined();
    own.close();
  });

  it("counts each lane from the file: the other connection's events are seen at once", async () => {
    const a = new SqliteStorage({ path, shared: true });
    const b = new SqliteStorage({ path, shared: true });
    b.add(billing(1));
    expect(a.sizeOf('billing')).toBe(1);
    b.addBatch([custom(1), custom(2)]);
    await nextTick();
    expect([a.sizeOf('custom'), a.sizeOf('billing'), a.size]).toEqual([2, 1, 3]);
    expect(eids(b.lease(2))).toEqual(['b1', 'c1']);
    expect([a.sizeOf('custom'), a.sizeOf('billing'), a.size]).toEqual([1, 0, 1]);
    a.close();
    b.close();
  });

  it('opening it returns the leases of processes that are gone to the queue at once, and keeps those of live ones', () => {
    const setup = new SqliteStorage({ path, shared: true });
    setup.addBatch([1, 2, 3].map(custom));
    setup.close();
    leaseAs(DEAD_PID, ['c1']);
    leaseAs(LIVE_PID, ['c2']);
    const storage = new SqliteStorage({ path, shared: true });
    // Read from the file before the storage is asked anything.
    expect(leasesInFile()).toEqual([{ eid: 'c2', leased_by: LIVE_PID }]);
    expect(storage.size).toBe(2);
    expect(eids(storage.lease(10))).toEqual(['c1', 'c3']);
    storage.close();
  });

  it('a lease of another PID namespace or another boot is alive until its deadline, even if no process here has its pid', () => {
    const setup = new SqliteStorage({ path, shared: true });
    setup.addBatch([1, 2, 3, 4].map(custom));
    setup.close();
    const me = leaseOwner();
    leaseAs(DEAD_PID, ['c1'], { ns: 'pid:[1]', boot: me.boot }); // another container on this host
    leaseAs(DEAD_PID, ['c2'], { ns: me.ns, boot: 'another-boot' }); // from before a reboot, or another host
    leaseAs(DEAD_PID, ['c3']); // this namespace and boot: that process is gone
    const storage = new SqliteStorage({ path, shared: true });
    expect(leasesInFile()).toEqual([
      { eid: 'c1', leased_by: DEAD_PID },
      { eid: 'c2', leased_by: DEAD_PID },
    ]);
    expect(eids(storage.lease(10))).toEqual(['c3', 'c4']);
    storage.close();
  });

  it('a lease that names no namespace or boot (written by version 2) waits for its deadline', () => {
    const setup = new SqliteStorage({ path, shared: true });
    setup.addBatch([1, 2].map(custom));
    setup.close();
    leaseAs(DEAD_PID, ['c1'], { ns: '', boot: '' });
    const storage = new SqliteStorage({ path, shared: true });
    expect(leasesInFile()).toEqual([{ eid: 'c1', leased_by: DEAD_PID }]);
    expect(eids(storage.lease(10))).toEqual(['c2']);
    storage.close();
  });

  it('a process that cannot read its own namespace and boot id releases no lease before its deadline', () => {
    const setup = new SqliteStorage({ path, shared: true });
    setup.addBatch([1, 2, 3].map(custom));
    setup.close();
    leaseAs(DEAD_PID, ['c1'], { ns: '', boot: '' }); // names no namespace: version 2, or a process without /proc
    leaseAs(DEAD_PID, ['c2']); // this namespace and boot, gone: but the child cannot know it is in the same one
    // A real process that cannot read them: in a private mount namespace, an empty tmpfs over its
    // /proc/<pid>/ns and /dev/null over the boot id (needs root, as CI runs).
    const fixture = join(__dirname, '../fixtures/apps/lease-without-proc.ts');
    const result = spawnSync(
      'unshare',
      [
        '--mount',
        '--propagation',
        'private',
        'sh',
        '-c',
        'mount -t tmpfs none /proc/$$/ns && mount --bind /dev/null /proc/sys/kernel/random/boot_id && ' +
          `exec "${process.execPath}" -r @swc-node/register "${fixture}"`,
      ],
      { cwd: join(__dirname, '../..'), env: { ...process.env, DB: path }, encoding: 'utf8', timeout: 60_000 },
    );
    if (result.status !== 0) {
      throw new Error(
        `This test needs a process that cannot read its namespace and boot id: \`unshare --mount\` with ` +
          `mounts over /proc/<pid>/ns and the boot id failed ` +
          `(${(result.stderr || result.error?.message || `exit ${result.status}`).trim()}). Run the tests as root (CI does).`,
      );
    }
    const report = JSON.parse(result.stdout.split('\n')[0]) as {
      owner: { ns: string; boot: string };
      leased: string[];
    };
    expect(report.owner).toEqual(expect.objectContaining({ ns: '', boot: '' }));
    expect(report.leased).toEqual(['c3']);
    expect(leasesInFile().filter((l) => l.leased_by === DEAD_PID)).toEqual([
      { eid: 'c1', leased_by: DEAD_PID },
      { eid: 'c2', leased_by: DEAD_PID },
    ]);
  });

  it("another namespace's lease comes back once its deadline passes", () => {
    const setup = new SqliteStorage({ path, shared: true });
    setup.addBatch([custom(1)]);
    setup.close();
    leaseAs(DEAD_PID, ['c1'], { ns: 'pid:[1]', boot: leaseOwner().boot });
    const raw = openRaw(path);
    raw.prepare("UPDATE snowplow_events SET leased_until = ? WHERE eid = 'c1'").run(Date.now() - 1);
    raw.close();
    const storage = new SqliteStorage({ path, shared: true });
    expect(eids(storage.lease(10))).toEqual(['c1']);
    storage.close();
  });

  it('the leases this process takes name its PID namespace and boot', () => {
    const storage = new SqliteStorage({ path, shared: true });
    storage.addBatch([custom(1)]);
    storage.lease(1);
    const raw = openRaw(path);
    const row = raw.prepare('SELECT leased_by, leased_ns, leased_boot FROM snowplow_events').get();
    raw.close();
    expect(row).toEqual({
      leased_by: process.pid,
      leased_ns: readlinkSync('/proc/self/ns/pid'),
      leased_boot: readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim(),
    });
    storage.close();
  });

  it('while open, it looks for leases of processes that are gone once a second at most', async () => {
    jest.useFakeTimers({
      doNotFake: [
        'hrtime',
        'nextTick',
        'performance',
        'queueMicrotask',
        'setImmediate',
        'clearImmediate',
        'setInterval',
        'clearInterval',
        'setTimeout',
        'clearTimeout',
      ],
    });
    const t0 = Date.now();
    const storage = new SqliteStorage({ path, shared: true });
    storage.addBatch([1, 2, 3].map(custom)); // looks for dead leases (none) at t0
    await nextTick();
    leaseAs(DEAD_PID, ['c1']);
    jest.setSystemTime(t0 + 999);
    expect(storage.size).toBe(2);
    jest.setSystemTime(t0 + 1_000);
    expect(storage.size).toBe(3);
    expect(leasesInFile()).toEqual([]);
    leaseAs(DEAD_PID, ['c2']);
    jest.setSystemTime(t0 + 1_999);
    expect(storage.size).toBe(2);
    jest.setSystemTime(t0 + 2_000);
    expect(storage.size).toBe(3);
    storage.close();
  });

  it('a write that finds the file over capacity counts the events in flight too', async () => {
    const a = new SqliteStorage({ path, shared: true, capacity: 3 });
    const b = new SqliteStorage({ path, shared: true, capacity: 3 });
    a.addBatch([custom(1), custom(2)]);
    await nextTick();
    const inFlight = a.lease(2);
    // Same tick: neither sees the other's event before writing its own.
    expect(a.add(custom(3))).toBe(0);
    expect(b.add(custom(4))).toBe(0);
    await nextTick();
    // b's write found c1, c2 in flight and c3, c4 waiting: one over, the oldest waiting (c3) went.
    expect([a.takeEvictions(), b.takeEvictions()]).toEqual([0, 1]);
    a.ack(inFlight);
    expect(eids(b.lease(10))).toEqual(['c4']);
    a.close();
    b.close();
  });

  it('a process that only reads never evicts: only a write that takes the file over its capacity does', async () => {
    const small = new SqliteStorage({ path, shared: true, capacity: 2 });
    const large = new SqliteStorage({ path, shared: true, capacity: 10 });
    large.addBatch([1, 2, 3, 4, 5].map(custom));
    await nextTick();
    expect(small.lease(0)).toEqual([]);
    expect(small.size).toBe(5);
    expect(small.takeEvictions()).toBe(0);
    expect(eids(large.lease(10))).toEqual(['c1', 'c2', 'c3', 'c4', 'c5']);
    small.close();
    large.close();
  });

  it('an eviction SQLite refuses at a lease is told to the failure handler, naming what failed', () => {
    new SqliteStorage({ path, shared: true }).close();
    const raw = openRaw(path);
    raw.exec(
      "CREATE TRIGGER refuse BEFORE DELETE ON snowplow_events BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END",
    );
    raw.close();
    const a = new SqliteStorage({ path, shared: true, capacity: 3 });
    const b = new SqliteStorage({ path, shared: true, capacity: 3 });
    a.addBatch([1, 2, 3].map(custom));
    b.addBatch([4, 5].map(custom));
    const failures: string[] = [];
    b.onFailure({ failed: (op, e) => failures.push(`${op}: ${e.message}`), unwritten: () => undefined });
    expect(a.lease(0)).toEqual([]); // writes c1..c3
    // Writes c4, c5: two over, which the trigger will not let go. As any refused write before a
    // lease, it is left to the background retry and told to the handler, not thrown.
    expect(b.lease(0)).toEqual([]);
    const message = `Snowplow event store ${path}: cannot evict events: database or disk is full`;
    expect(failures).toEqual([`flush: ${message}`]);
    expect(b.writeError).toBeInstanceOf(StorageError);
    expect(b.writeError?.message).toBe(message);
    expect(b.takeEvictions()).toBe(0);
    a.close();
    b.close();
  });

  it('a lease with nothing to take returns at once while another process holds the write lock', async () => {
    const storage = new SqliteStorage({ path, shared: true });
    const writer = openRaw(path);
    writer.exec('BEGIN IMMEDIATE');
    expect(storage.lease(5)).toEqual([]); // nothing waits
    writer.exec('ROLLBACK');
    storage.add(custom(1));
    await nextTick();
    writer.exec('BEGIN IMMEDIATE');
    expect(storage.lease(0)).toEqual([]); // asked for none
    writer.exec('ROLLBACK');
    writer.close();
    expect(eids(storage.lease(5))).toEqual(['c1']);
    storage.close();
  });
});
