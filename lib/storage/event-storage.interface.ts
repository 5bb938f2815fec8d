import { QueuedEvent } from './queued-event';

/**
 * Holds events between track time and send time. Implementations are bounded: when full,
 * adding drops the oldest waiting events and reports how many it dropped.
 *
 * The emitter takes events with `lease`, then either `ack`s them (delivered, or dropped for
 * good) or `release`s them (failed: back to the end of the queue). A durable store keeps leased
 * events until the ack, so a crash in between loses nothing; the in-memory ring buffer hands them
 * over outright and takes them back on release.
 */
export interface EventStorage {
  /** Most events waiting at once. */
  readonly capacity: number;
  /** Events waiting (not leased). */
  readonly size: number;
  /** Stores one event; returns how many of the oldest waiting events it overwrote (0 or 1). */
  add(event: QueuedEvent): number;
  /** Stores all events in order (throws before changing anything); returns how many old events it overwrote. */
  addBatch(events: readonly QueuedEvent[]): number;
  /**
   * Removes and returns up to `maxCount` of the oldest events, FIFO. With `maxBytes`, stops before
   * the event that would take the sum of `bytes` over it (but returns at least one event when any waits).
   */
  get(maxCount: number, maxBytes?: number): QueuedEvent[];
  /** Like `get`, but a durable store keeps the events until `ack` or `release`. */
  lease(maxCount: number, maxBytes?: number): QueuedEvent[];
  /** Leased events are done with (delivered or dropped): forget them. */
  ack(events: readonly QueuedEvent[]): void;
  /** Leased events failed: put them back at the end of the queue, with their `attempts`; returns overwrites. */
  release(events: readonly QueuedEvent[]): number;
  /** Releases files or handles. The emitter calls it on stop for storages it created. */
  close?(): void;
  /**
   * Set by stores that other processes also fill (a shared SQLite file): how often an idle
   * emitter looks for their events. Unset: new events are signalled by `add` alone.
   */
  readonly pollIntervalMs?: number;
  /** Set by the emitter: told of events a store dropped on its own (a shared file over capacity). */
  onOverflow?: (count: number) => void;
}
