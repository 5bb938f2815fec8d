import { readFileSync, readlinkSync } from 'node:fs';
import type BetterSqlite3 from 'better-sqlite3';
import { processExists } from '../utils/process-alive';

/**
 * Who holds a lease in a shared outbox file. A pid alone names a process only within one PID
 * namespace and one boot: two containers sharing a volume each have their own pid 1, 2, 3..., and
 * neither can see the other's processes. So a lease also records the PID namespace
 * (`readlink /proc/self/ns/pid`) and the boot id (`/proc/sys/kernel/random/boot_id`) of its owner.
 * Only a lease whose owner is in this process's namespace and boot can be checked with
 * `kill(pid, 0)`; any other lease counts as alive until its deadline (`leaseTimeoutMs`).
 */
export interface LeaseOwner {
  pid: number;
  /** E.g. `pid:[4026531836]`; empty where Linux's /proc is missing. */
  ns: string;
  /** E.g. `277053f1-75d6-4f8d-a016-e7a1aa7e2e10`; empty where Linux's /proc is missing. */
  boot: string;
}

let self: { ns: string; boot: string } | undefined;

function readOr(read: () => string): string {
  try {
    return read().trim();
  } catch {
    return '';
  }
}

/** This process as a lease owner (namespace and boot id are read once; the pid changes on fork). */
export function leaseOwner(): LeaseOwner {
  self ??= {
    ns: readOr(() => readlinkSync('/proc/self/ns/pid')),
    boot: readOr(() => readFileSync('/proc/sys/kernel/random/boot_id', 'utf8')),
  };
  return { pid: process.pid, ...self };
}

/**
 * Shared mode: a process killed with events in flight leaves them leased until its lease times
 * out. A lease of a process of this namespace and boot that no longer exists goes back to the
 * queue at once; leases of other namespaces or boots (another container, a file from before a
 * reboot or from a version that did not record them) wait for their deadline. Where this
 * process's own namespace or boot id cannot be read, no pid can be trusted to name the same
 * process: every lease waits for its deadline.
 */
export function releaseLeasesOfDeadProcesses(db: BetterSqlite3.Database): void {
  const now = Date.now();
  const me = leaseOwner();
  if (me.ns === '' || me.boot === '') return;
  const owners = db
    .prepare(
      'SELECT DISTINCT leased_by FROM snowplow_events WHERE leased_until > ? AND leased_by NOT IN (0, ?) ' +
        "AND leased_ns = ? AND leased_boot = ? AND leased_ns <> '' AND leased_boot <> ''",
    )
    .pluck()
    .all(now, me.pid, me.ns, me.boot) as number[];
  const release = db.prepare(
    'UPDATE snowplow_events SET leased_until = 0, leased_by = 0 ' +
      'WHERE leased_by = ? AND leased_until > ? AND leased_ns = ? AND leased_boot = ?',
  );
  for (const pid of owners) if (!processExists(pid)) release.run(pid, now, me.ns, me.boot);
}
