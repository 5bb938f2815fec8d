import { EventStorage, kindOf } from '../storage/event-storage.interface';
import { QueuedEvent } from '../storage/queued-event';
import type { Losses } from './losses';
import { EmitterStats } from './send-result';

/** The emitter's mutable counters, shared by the emitter and its send passes. */
export class EmitterState {
  stopped = false;
  /** Events leased and not yet settled. */
  inFlight = 0;
  enqueued = 0;
  /** Events the collector accepted. */
  sent = 0;
  /** Failed batch requests since the last success (answers that are retried). */
  consecutiveFailures = 0;
  /** Requests the collector refused for their credentials. */
  authFailures = 0;
  lastSuccessAt?: number;
  lastError?: string;
}

/** The emitter's state as `stats()` reports it; `held` are events only memory holds (refused by the store). */
export function snapshotStats(
  state: EmitterState,
  storage: EventStorage,
  held: readonly QueuedEvent[],
  losses: Losses,
  storageErrors = 0,
): EmitterStats {
  const heldBilling = held.filter((e) => kindOf(e) === 'billing').length;
  return {
    queued: storage.size + held.length,
    inFlight: state.inFlight,
    capacity: storage.capacity,
    enqueued: state.enqueued,
    sent: state.sent,
    dropped: losses.totals(),
    billing: {
      queued: storage.sizeOf('billing') + heldBilling,
      capacity: storage.billingCapacity,
      dropped: { ...losses.dropped.billing },
    },
    custom: {
      queued: storage.sizeOf('custom') + held.length - heldBilling,
      capacity: storage.capacity,
      dropped: { ...losses.dropped.custom },
    },
    lastSuccessAt: state.lastSuccessAt,
    lastError: state.lastError,
    consecutiveFailures: state.consecutiveFailures,
    authFailures: state.authFailures,
    stopped: state.stopped,
    storageErrors,
    storageError: storage.writeError?.message,
    storeReachable: storage.reachable !== false,
    ...(storage.tableCounts ? { table: { ...storage.tableCounts } } : {}),
  };
}
