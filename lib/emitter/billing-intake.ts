import { BillingQueueFullError, StorageError } from '../errors';
import { EventStorage } from '../storage/event-storage.interface';
import { QueuedEvent } from '../storage/queued-event';
import { CommitOutcome, EnqueueOptions, NOT_DURABLE } from '../tracker/payload';
import { DURABLE } from '../storage/commit-group';
import { EmitterLog, errorMessage } from './emitter-log';
import { Losses } from './losses';
import { Settlement } from './settlement';
import { asStorageError, StorageFailures, storeLocation } from './storage-failures';

/** The emitter's parts a billing event goes through. */
export interface BillingIntakeParts {
  storage: EventStorage;
  losses: Losses;
  settlement: Settlement;
  storageFailures: StorageFailures;
  log: EmitterLog;
}

/**
 * Takes a billing event into the store, keeping the billing promise: with a durable store, the
 * event is on disk (its row, or its `overflow` dead-letter line when the lane is full) when this
 * returns; otherwise it throws a `StorageError` naming the cause and nothing is queued. With
 * `hold` (a caller nobody can tell, such as the `@TrackBillingEvent` interceptor) it never
 * throws for that: the event is held in memory, written again before the next send, and its
 * whole payload is logged at error level so that even a `kill -9` leaves a record, and `onHeld`
 * is told. Returns how many custom events the store overwrote to make room.
 *
 * In memory (a store that promises no more), a full lane dead-letters the event as before and a
 * refused write holds it.
 */
export function takeBilling(
  parts: BillingIntakeParts,
  event: QueuedEvent,
  options: EnqueueOptions | undefined,
): BillingTaken {
  const { storage, losses, settlement, storageFailures } = parts;
  const hold = options?.whenNotCommitted === 'hold';
  let full: boolean;
  try {
    full = storage.sizeOf('billing') >= storage.billingCapacity;
    if (!full) {
      const overwritten = storage.add(event);
      return { overwritten, committed: storage.lastCommit?.() ?? (storage.durable ? DURABLE : NOT_DURABLE) };
    }
  } catch (err) {
    if (!storage.durable) {
      // Not in a store that only promises memory: held here and written again before the next lease.
      settlement.hold([event], 'write a tracked event to', err);
      return NOTHING_STORED;
    }
    const error = asStorageError(err, storage);
    storageFailures.record('commit', 'write a billing event to', error);
    if (!hold) throw error;
    holdUncommitted(parts, event, error, options);
    return NOTHING_STORED;
  }
  if (!storage.durable) {
    losses.billingOverflow(event, storage.billingCapacity);
    return NOTHING_STORED;
  }
  const failure = losses.billingOverflowNow(event, storage.billingCapacity);
  // Its `overflow` line is on disk: the record is durable, the event will not be sent.
  if (failure === undefined) return NOTHING_STORED;
  const error = new BillingQueueFullError(storeLocation(storage), storage.billingCapacity, failure);
  if (!hold) throw error;
  holdUncommitted(parts, event, error, options);
  return NOTHING_STORED;
}

/** What `takeBilling` did: custom events overwritten to make room, and the event's commit promise. */
export interface BillingTaken {
  overwritten: number;
  committed: Promise<CommitOutcome>;
}

/** Held in memory, dead-lettered, or logged: not in the store, so no more durable than memory. */
const NOTHING_STORED: BillingTaken = { overwritten: 0, committed: NOT_DURABLE };

/** Held in memory (written again before the next lease), its payload logged in full. */
function holdUncommitted(
  parts: BillingIntakeParts,
  event: QueuedEvent,
  error: StorageError,
  options: EnqueueOptions | undefined,
): void {
  parts.settlement.keep([event]);
  parts.log.error(
    `billing event ${event.eid} could not be committed (${error.name}: ${error.message}); it is held in memory ` +
      `and written again before the next send (dead-lettered at shutdown if it never is); its payload: ${event.json}`,
  );
  try {
    options?.onHeld?.(error);
  } catch (err) {
    // The event is held: a throwing callback must not make the caller think otherwise.
    parts.log.error(`the onHeld callback of enqueue threw: ${errorMessage(err)}`);
  }
}
