import { InvalidOptionError } from '../errors';
import { checkInteger, checkPositiveInteger } from '../validation';
import { DEFAULT_BILLING_CAPACITY, DEFAULT_CAPACITY } from './ring-buffer.storage';
import type { OutboxFile } from './sqlite-file';

/** Options of `new SqliteStorage(...)` (and of `storage: { type: 'sqlite', ... }`). */
export interface SqliteStorageOptions {
  /** The database file; created (mode 0600) when missing. */
  path: string;
  /** Most custom events waiting in the file. Default 10,000. */
  capacity?: number;
  /** Most billing events waiting in the file. Default 10,000. */
  billingCapacity?: number;
  /**
   * Let several processes use the same file. Off by default: a second process opening the file
   * gets a `StorageLockedError`. When on, a lease that was not acked or released within
   * `leaseTimeoutMs` (its process died) returns to the queue.
   */
  shared?: boolean;
  /**
   * Shared mode only: how long a lease lasts, ms. Default 300,000. A lease of a process in
   * another PID namespace (another container) or another boot counts as alive until then.
   */
  leaseTimeoutMs?: number;
  /**
   * Shared mode only: the longest a call waits for another process's write lock, ms (0 to 5,000;
   * default 50). The wait blocks the event loop. When it passes, `trackBillingEvent*` throws
   * `StorageBusyError` and nothing is stored.
   */
  lockTimeoutMs?: number;
}

const DEFAULT_LOCK_TIMEOUT_MS = 50;
const MAX_LOCK_TIMEOUT_MS = 5_000;

/** The options checked (each error names the option) and their defaults filled in. */
export function resolveSqliteOptions(options: SqliteStorageOptions): {
  capacity: number;
  billingCapacity: number;
  leaseTimeoutMs: number;
  file: OutboxFile;
} {
  if (options === null || typeof options !== 'object') throw new InvalidOptionError('storage', 'must be an object');
  if (typeof options.path !== 'string' || options.path.trim() === '') {
    throw new InvalidOptionError('storage.path', 'must be a non-empty file path');
  }
  const lockTimeoutMs = checkInteger(
    'storage.lockTimeoutMs',
    options.lockTimeoutMs,
    { min: 0, max: MAX_LOCK_TIMEOUT_MS, unit: 'ms' },
    DEFAULT_LOCK_TIMEOUT_MS,
  );
  return {
    capacity: checkPositiveInteger('storage.capacity', options.capacity, DEFAULT_CAPACITY),
    billingCapacity: checkPositiveInteger('billing.capacity', options.billingCapacity, DEFAULT_BILLING_CAPACITY),
    leaseTimeoutMs: checkPositiveInteger('storage.leaseTimeoutMs', options.leaseTimeoutMs, 300_000),
    file: { path: options.path, shared: options.shared === true, lockTimeoutMs },
  };
}
