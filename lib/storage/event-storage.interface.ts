import type { CommitOutcome, EventKind } from '../tracker/payload';
import type { SqlExecutor } from '../tracker/transaction';
import { QueuedEvent } from './queued-event';

/** A value, or a promise of it: the relay half of the contract may answer either way. */
export type MaybePromise<T> = T | Promise<T>;

export type { CommitOutcome };

/** A shared table's rows as last counted: `waiting` are not leased; `countedAt` is ms since the epoch. */
export interface TableCounts {
  readonly total: number;
  readonly waiting: number;
  readonly countedAt: number;
}

/** Why a store moves given-up events to its own dead-letter record (see `EventStorage.deadLetter`). */
export interface StoreDeadLetterRecord {
  /** The drop reason (`refused`, `expired`, ...). */
  readonly reason: string;
  /** The collector's HTTP status, when it answered. */
  readonly statusCode?: number;
  /** Why, redacted like every other error text. */
  readonly error: string;
}

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
  /**
   * Events waiting (not leased), both lanes. Synchronous, never awaits I/O: a store shared through
   * a database answers from what this instance knows (its write-behind buffer plus the table's
   * waiting rows as of its last look).
   */
  readonly size: number;
  /** Events of one kind waiting (not leased); synchronous, as `size`. */
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
  lease(maxCount: number, maxBytes?: number): MaybePromise<QueuedEvent[]>;
  /** Leased events are done with (delivered or dropped): forget them. */
  ack(events: readonly QueuedEvent[]): MaybePromise<void>;
  /**
   * Leased events failed: put them back at the end of their lane, with their `attempts`. Billing
   * events always go back; returns how many waiting custom events were overwritten, as `add`.
   */
  release(events: readonly QueuedEvent[]): MaybePromise<number>;
  /** Releases files or handles. The emitter calls it on stop for storages it created. */
  close?(): MaybePromise<void>;
  /**
   * The commit promise of the event `add` took last, read right after `add` returned: settles
   * when that event is as durable as the store makes it (see `CommitOutcome`), rejects with a
   * `StorageError` when it could not be stored. Stores share one promise between the events of
   * one write, and attach a no-op rejection handler to it, so a promise nobody awaits never
   * becomes an unhandled rejection. Unset: the store commits in `add` (or keeps events in
   * memory), and the emitter answers for it.
   */
  lastCommit?(): Promise<CommitOutcome>;
  /**
   * Stores with a dead-letter record of their own (a PostgreSQL dead-letter table): moves
   * given-up leased events there and removes them from the queue, in one transaction. Rejects
   * (nothing moved) when it cannot; the emitter then keeps them and retries.
   */
  deadLetter?(events: readonly QueuedEvent[], record: StoreDeadLetterRecord): Promise<void>;
  /**
   * Stores that buffer writes (PostgreSQL's write-behind buffer): writes what is buffered now,
   * within `timeoutMs`. Resolves with how many events are still unwritten after it.
   */
  persist?(timeoutMs: number): Promise<number>;
  /**
   * Stores shared by every instance (PostgreSQL): events left at stop stay for another instance
   * or the next start. Resolves with how many wait in the whole store (all instances); the
   * emitter calls it once at stop to name what it leaves behind.
   */
  countAll?(): Promise<number>;
  /** Where the events wait, for log lines: a file path, or `schema.table`. */
  readonly location?: string;
  /**
   * Stores other instances relay too: wakes the send loop when another writer committed
   * (PostgreSQL's LISTEN/NOTIFY). Returns the unsubscribe.
   */
  onCommitted?(wake: () => void): () => void;
  /**
   * Stores that can write through a caller's open transaction (PostgreSQL): inserts the events
   * with `exec`, which runs one statement in that transaction. They become visible to the relays
   * at the caller's COMMIT; a rollback leaves none. Rejects with what the statement threw.
   */
  insertInTransaction?(events: readonly QueuedEvent[], exec: SqlExecutor): Promise<void>;
  /**
   * Stores other writers fill too (PostgreSQL): true when rows this instance has not counted may
   * wait (another instance committed, a NOTIFY came, or the poll interval passed), so the send
   * loop looks although `size` is 0. Not part of `size`: an idle instance reports 0 queued.
   */
  readonly mayHaveMore?: boolean;
  /**
   * Stores every instance shares (PostgreSQL): the whole table as last counted (all instances'
   * rows), refreshed by the relay at most once per poll; unset until the first count.
   */
  readonly tableCounts?: TableCounts;
  /**
   * Stores whose leases run out (PostgreSQL): extends the lease of leased events this instance
   * still holds. The send loop calls it before each further request for the same batch (a token
   * refresh, the halves of a split batch), so that a batch answered slowly several times over is
   * never leased to another instance while this one still sends it.
   */
  renewLeases?(events: readonly QueuedEvent[]): Promise<void>;
  /**
   * Stores other writers fill too: forget that the table was seen empty, so that the send loop
   * looks again (`mayHaveMore` turns true). `drain()` calls it: a row committed a moment ago, whose
   * NOTIFY has not arrived yet, is then still found and sent before drain() reports done.
   */
  lookAgain?(): void;
  /** False while the store cannot be reached (a database outage); unset means always reachable. */
  readonly reachable?: boolean;
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

/**
 * A store whose every operation answers synchronously, as the in-memory ring buffer and the
 * SQLite outbox do: their relay half costs no promise per call.
 */
export interface SyncEventStorage extends EventStorage {
  /** {@inheritDoc EventStorage.lease} */
  lease(maxCount: number, maxBytes?: number): QueuedEvent[];
  /** {@inheritDoc EventStorage.ack} */
  ack(events: readonly QueuedEvent[]): void;
  /** {@inheritDoc EventStorage.release} */
  release(events: readonly QueuedEvent[]): number;
  /** {@inheritDoc EventStorage.close} */
  close?(): void;
}

/** What a storage operation was doing when the store refused it: the `op` of `snowplow_storage_errors_total`. */
export type StorageOp = 'commit' | 'flush' | 'lease' | 'ack' | 'release' | 'dead_letter';

/** The storage operations, as `StorageOp` names them. */
export const STORAGE_OPS: readonly StorageOp[] = ['commit', 'flush', 'lease', 'ack', 'release', 'dead_letter'];

/** Told by a store about writes it does on its own (see `EventStorage.onFailure`). */
export interface StorageFailureHandler {
  /**
   * A background write failed: `flush`, the events stay in memory and it is retried; `ack`,
   * reclaiming the space of delivered events (already deleted) failed and is tried again later.
   */
  failed(op: StorageOp, err: Error): void;
  /**
   * These events could not be written and the store gives them up: the last chance to keep a
   * record. `when`: `shutdown` (the process exits or the store closes, the default), or
   * `not_stored` (a database store could not commit them within its `commitTimeoutMs`; their
   * `committed` promises reject).
   */
  unwritten(events: readonly QueuedEvent[], err: Error, when?: 'shutdown' | 'not_stored'): void;
}

/** The lane an event waits in. */
export function kindOf(event: { readonly kind?: EventKind }): EventKind {
  return event.kind === 'billing' ? 'billing' : 'custom';
}
