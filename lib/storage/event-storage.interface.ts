import type { EventKind } from '../tracker/payload';
import { QueuedEvent } from './queued-event';

/**
 * Holds events between track time and send time, in two lanes: billing events and custom
 * events. The custom lane is bounded: when full, adding drops the oldest waiting custom events
 * and reports how many. A custom event never evicts a billing event; the emitter keeps the
 * billing lane within `billingCapacity` itself (a billing event past it is dead-lettered, never
 * overwritten).
 *
 * The emitter takes events with `lease` (billing events first), then either `ack`s them
 * (delivered, or dropped for good) or `release`s them (failed: back to the end of their lane). A
 * durable store keeps leased events until the ack, so a crash in between loses nothing; the
 * in-memory ring buffer hands them over outright and takes them back on release.
 */
export interface EventStorage {
  /** Most custom events waiting at once. */
  readonly capacity: number;
  /** Most billing events waiting at once (enforced by the emitter, see above). */
  readonly billingCapacity: number;
  /** True when waiting events survive a restart of the process (a file). */
  readonly durable: boolean;
  /** Events waiting (not leased), both lanes. */
  readonly size: number;
  /** Events of one kind waiting (not leased). */
  sizeOf(kind: EventKind): number;
  /**
   * Stores one event (an unset `kind` is `custom`); returns how many of the oldest waiting custom
   * events were dropped to make room. A durable store has a billing event on disk when this returns.
   */
  add(event: QueuedEvent): number;
  /** Stores all events in order (throws before changing anything); returns overwrites, as `add`. */
  addBatch(events: readonly QueuedEvent[]): number;
  /**
   * Takes up to `maxCount` of the oldest waiting events, billing events first, FIFO within a lane.
   * With `maxBytes`, stops before the event that would take the sum of `bytes` over it (but
   * returns at least one event when any waits). A durable store keeps them until `ack` or
   * `release`; in memory they are handed over outright.
   */
  lease(maxCount: number, maxBytes?: number): QueuedEvent[];
  /** Leased events are done with (delivered or dropped): forget them. */
  ack(events: readonly QueuedEvent[]): void;
  /**
   * Leased events failed: put them back at the end of their lane, with their `attempts`. Billing
   * events always go back; returns how many waiting custom events were overwritten, as `add`.
   */
  release(events: readonly QueuedEvent[]): number;
  /** Releases files or handles. The emitter calls it on stop for storages it created. */
  close?(): void;
  /**
   * Set by stores that other processes also fill (a shared SQLite file): how often an idle
   * emitter looks for their events. Unset: new events are signalled by `add` alone.
   */
  readonly pollIntervalMs?: number;
  /**
   * Stores that other processes also fill: how many waiting custom events were dropped since the
   * last call because the others' writes took the store over capacity. The emitter asks after
   * each send pass and counts them as overflow.
   */
  takeEvictions?(): number;
  /**
   * Stores that write some events later (the SQLite outbox writes custom events at the end of a
   * tick): the emitter passes who hears of a failed background write, and who takes the events
   * that still could not be written when the process exits.
   */
  onFailure?(handler: StorageFailureHandler): void;
  /**
   * Durable stores: the error of the last write, while the store refuses writes (a full disk, an
   * I/O error, a lock not granted in time); undefined once a write succeeds again.
   */
  readonly writeError?: Error;
}

/** What a storage operation was doing when the store refused it: the `op` of `snowplow_storage_errors_total`. */
export type StorageOp = 'commit' | 'flush' | 'lease' | 'ack' | 'release';

/** The storage operations, as `StorageOp` names them. */
export const STORAGE_OPS: readonly StorageOp[] = ['commit', 'flush', 'lease', 'ack', 'release'];

/** Told by a store about writes it does on its own (see `EventStorage.onFailure`). */
export interface StorageFailureHandler {
  /**
   * A background write failed: `flush`, the events stay in memory and it is retried; `ack`,
   * reclaiming the space of delivered events (already deleted) failed and is tried again later.
   */
  failed(op: StorageOp, err: Error): void;
  /** The process is exiting and these events could not be written: the last chance to keep a record. */
  unwritten(events: readonly QueuedEvent[], err: Error): void;
}

/** The lane an event waits in. */
export function kindOf(event: { readonly kind?: EventKind }): EventKind {
  return event.kind === 'billing' ? 'billing' : 'custom';
}
