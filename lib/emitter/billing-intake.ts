import { BillingQueueFullError, StorageError } from '../errors';
import { EventStorage } from '../storage/event-storage.interface';
import { QueuedEvent } from '../storage/queued-event';
import { EnqueueOptions } from '../tracker/payload';
import { EmitterLog, errorMessage } from './emitter-log';
import { Losses } from './losses';
import { Settlement } from './settlement';
import { asStorageError, StorageFailures } from './storage-failures';

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
): number {
  const { storage, losses, settlement, storageFailures } = parts;
  const hold = options?.whenNotCommitted === 'hold';
  let full: boolean;
  let overwritten = 0;
  try {
    full = storage.sizeOf('billing') >= storage.billingCapacity;
    if (!full) overwritten = storage.add(event);
  } catch (err) {
    if (!storage.durable) {
      // Not in a store that only promises memory: held here and written again before the next lease.
      settlement.hold([event], 'write a tracked event to', err);
      return 0;
    }
    const error = asStorageError(err, storage);
    storageFailures.record('commit', 'write a billing event to', error);
    if (!hold) throw error;
    holdUncommitted(parts, event, error, options);
    return 0;
  }
  if (!full) return overwritten;
  if (!storage.durable) {
    losses.billingOverflow(event, storage.billingCapacity);
    return 0;
  }
  const failure = losses.billingOverflowNow(event, storage.billingCapacity);
  if (failure === undefined) return 0;
  const error = new BillingQueueFullError(storePath(storage), storage.billingCapacity, failure);
  if (!hold) throw error;
  holdUncommitted(parts, event, error, options);
  return 0;
}

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

function storePath(storage: EventStorage): string {
  const path = (storage as { path?: unknown }).path;
  return typeof path === 'string' ? path : '(an EventStorage instance)';
}
