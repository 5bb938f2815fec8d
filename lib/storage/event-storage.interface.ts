import { QueuedEvent } from './queued-event';

/**
 * Holds events between track time and send time. Implementations are bounded: when full,
 * adding drops the oldest events and reports how many it dropped.
 */
export interface EventStorage {
  readonly capacity: number;
  /** Events currently held. */
  readonly size: number;
  /** Stores one event; returns how many of the oldest events it overwrote (0 or 1). */
  add(event: QueuedEvent): number;
  /** Stores all events or none (throws before changing anything); returns how many old events it overwrote. */
  addBatch(events: readonly QueuedEvent[]): number;
  /**
   * Removes and returns up to `maxCount` of the oldest events, FIFO. With `maxBytes`, stops before
   * the event that would take the sum of `bytes` over it (but always returns at least one event
   * when any is held).
   */
  get(maxCount: number, maxBytes?: number): QueuedEvent[];
}
