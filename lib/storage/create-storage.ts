import { InvalidOptionError } from '../errors';
import { EventStorage } from './event-storage.interface';
import { RingBufferStorage } from './ring-buffer.storage';
import { SqliteStorage, SqliteStorageOptions } from './sqlite.storage';
import { PostgresStorage, PostgresStorageOptions } from './postgres.storage';

/** Storage chosen by configuration; the emitter creates it, owns it and closes it on stop. */
export type StorageConfig =
  | { type: 'memory'; capacity?: number }
  | ({ type: 'sqlite' } & Omit<SqliteStorageOptions, 'billingCapacity'>)
  | ({ type: 'postgres' } & PostgresStorageOptions);

export function isEventStorage(value: unknown): value is EventStorage {
  const candidate = value as Partial<EventStorage> | null;
  return (
    typeof candidate === 'object' &&
    candidate !== null &&
    ['add', 'addBatch', 'lease', 'ack', 'release', 'sizeOf'].every(
      (m) => typeof (candidate as Record<string, unknown>)[m] === 'function',
    )
  );
}

/**
 * Builds the storage a config names. `capacity` (custom events) is the emitter's, used when the
 * config has none; `billingCapacity` sizes the billing lane, which lives in the same storage
 * (PostgreSQL's billing lane is unbounded). `requestTimeoutMs` is the emitter's: a PostgreSQL
 * lease must outlive a request (see `PostgresStorage.checkLease`).
 */
export function createStorage(
  config: StorageConfig | undefined,
  capacity: number,
  billingCapacity: number,
  requestTimeoutMs?: number,
): EventStorage {
  if (config === undefined) return new RingBufferStorage(capacity, billingCapacity);
  if (config === null || typeof config !== 'object') {
    throw new InvalidOptionError(
      'storage',
      "must be { type: 'memory' }, { type: 'sqlite', path }, { type: 'postgres', pool | connectionString }, or an EventStorage",
    );
  }
  switch (config.type) {
    case 'memory':
      return new RingBufferStorage(config.capacity ?? capacity, billingCapacity);
    case 'sqlite':
      return new SqliteStorage({ ...config, capacity: config.capacity ?? capacity, billingCapacity });
    case 'postgres': {
      const storage = new PostgresStorage({ ...config, capacity: config.capacity ?? capacity });
      if (requestTimeoutMs !== undefined) PostgresStorage.checkLease(storage.leaseMs, requestTimeoutMs);
      return storage;
    }
    default:
      throw new InvalidOptionError(
        'storage.type',
        `must be 'memory', 'sqlite' or 'postgres', got ${JSON.stringify((config as { type?: unknown }).type)}`,
      );
  }
}
