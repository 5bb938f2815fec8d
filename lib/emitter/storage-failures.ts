import { StorageError } from '../errors';
import { EventStorage, StorageFailureHandler, StorageOp } from '../storage/event-storage.interface';
import { QueuedEvent } from '../storage/queued-event';
import { EmitterLog, errorMessage } from './emitter-log';
import { Losses } from './losses';
import { EmitterObserver } from './send-result';

/** A store refusing every write would log each tracked event: one line per op this often at most. */
const REPEAT_LOG_INTERVAL_MS = 10_000;

/**
 * Operations the event store refused: each is counted (`stats().storageErrors`,
 * `snowplow_storage_errors_total{op}`) and logged at error level. Also the handler a durable store
 * tells of its background writes: a failed end-of-tick write is retried by the store, and what it
 * still cannot write when the process exits is given up here as `shutdown` (dead-lettered, or
 * logged with its payload when no dead-letter file is set).
 */
export class StorageFailures implements StorageFailureHandler {
  /** Refused operations since the emitter was built. */
  count = 0;

  constructor(
    private readonly log: EmitterLog,
    private readonly observe: (call: (observer: EmitterObserver) => void) => void,
    private readonly losses: Losses,
  ) {}

  /** The store refused `op` (`what` names it for the log: "could not <what> the event store"). */
  record(op: StorageOp, what: string, err: unknown): void {
    this.count++;
    this.observe((o) => o.storageFailed?.(op));
    const message = () => `could not ${what} the event store: ${errorMessage(err)}`;
    if (op === 'commit' || op === 'flush') this.log.every(`storage-${op}`, REPEAT_LOG_INTERVAL_MS, 'error', message);
    else this.log.error(message());
  }

  /** {@inheritDoc StorageFailureHandler.failed} */
  failed(op: StorageOp, err: Error): void {
    if (op !== 'flush') return this.record(op, 'tidy up', err);
    this.record(op, 'write tracked events to', `${errorMessage(err)}; they are kept in memory and written again`);
  }

  /** {@inheritDoc StorageFailureHandler.unwritten} */
  unwritten(events: readonly QueuedEvent[], err: Error, when: 'shutdown' | 'not_stored' = 'shutdown'): void {
    this.count++;
    this.observe((o) => o.storageFailed?.(when === 'shutdown' ? 'flush' : 'commit'));
    const at = when === 'shutdown' ? 'at shutdown' : 'in time';
    const billing = this.losses.giveUp(events, when, {
      error: `the event store refused the write ${at}: ${errorMessage(err)}`,
    });
    this.log.error(
      `${events.length} events (${billing} billing) could not be written to the event store ${at} ` +
        `(${errorMessage(err)}); ${this.losses.deadLetterPath ? `dead-lettered to ${this.losses.deadLetterPath}` : 'dropped'}`,
    );
  }
}

/** A storage error as the caller of a track call gets it: a `StorageError` naming the store and the cause. */
export function asStorageError(err: unknown, storage: EventStorage): StorageError {
  if (err instanceof StorageError) return err;
  return new StorageError(storeLocation(storage), errorMessage(err));
}

/** Where a store keeps its events, for errors and logs: its `location`, or what kind of store it is. */
export function storeLocation(storage: EventStorage): string {
  return storage.location ?? (storage.durable ? '(an EventStorage instance)' : '(in memory)');
}
