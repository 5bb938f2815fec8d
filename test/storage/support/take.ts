import { SyncEventStorage, QueuedEvent } from '../../../lib/core';

/** Leases and acks at once: what the emitter does with a batch the collector accepted. */
export function take(storage: SyncEventStorage, maxCount: number, maxBytes?: number): QueuedEvent[] {
  const events = storage.lease(maxCount, maxBytes);
  storage.ack(events);
  return events;
}
