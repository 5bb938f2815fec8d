import { EventStorage, StorageOp } from '../storage/event-storage.interface';
import { QueuedEvent } from '../storage/queued-event';

const isPromise = (value: unknown): value is Promise<unknown> => value instanceof Promise;

/**
 * Acks and releases of leased events. When the storage refuses one (disk full, a lock timeout, a
 * database that does not answer), by throwing or by rejecting, the events are held here and the
 * call is retried before the next lease, so an event is never lost to a storage error: an ack
 * held is an event not sent twice, a release held is an event still queued (in memory).
 *
 * A store that answers synchronously (memory, SQLite) is settled synchronously: `ack` and
 * `release` then return `undefined`, and no promise is made. A store that answers with a promise
 * (PostgreSQL) is settled when the promise settles, and a rejection is handled exactly like a throw.
 */
export class Settlement {
  private readonly acks: QueuedEvent[] = [];
  private readonly releases: QueuedEvent[] = [];
  /** Held releases being retried right now. */
  private retrying: readonly QueuedEvent[] = [];

  constructor(
    private readonly storage: EventStorage,
    private readonly hooks: {
      /** The storage failed at `op` (`what`: "delete delivered events from"); the events are held. */
      storageFailed(op: StorageOp, what: string, err: unknown): void;
      /** Putting events back overwrote this many waiting custom events. */
      overwritten(count: number): void;
    },
  ) {}

  /**
   * Events held for a release the storage refused (a durable store's leased rows, with their `id`,
   * are still in its file) or never stored at all: still queued, in memory.
   */
  get held(): readonly QueuedEvent[] {
    // While a retried release is on its way to a store that answers later, its events are in
    // neither the store nor the held list: they are still counted here, so drain() never sees
    // an empty queue that is not.
    return this.retrying.length === 0 ? this.releases : [...this.releases, ...this.retrying];
  }

  /** True while acks the storage refused are held (delivered events the store still lists). */
  get acksHeld(): boolean {
    return this.acks.length > 0;
  }

  /** Done with leased events (delivered or dropped for good). A promise only for a store that answers with one. */
  ack(events: readonly QueuedEvent[]): Promise<void> | undefined {
    if (events.length === 0) return undefined;
    const failed = (err: unknown) => {
      this.acks.push(...events);
      this.hooks.storageFailed('ack', 'delete delivered events from', err);
    };
    try {
      const pending = this.storage.ack(events);
      return isPromise(pending) ? pending.then(undefined, failed) : undefined;
    } catch (err) {
      failed(err);
      return undefined;
    }
  }

  /** Leased (or never stored) events go back to the queue. A promise only for a store that answers with one. */
  release(events: readonly QueuedEvent[]): Promise<void> | undefined {
    if (events.length === 0) return undefined;
    const done = (overwritten: number) => {
      if (overwritten > 0) this.hooks.overwritten(overwritten);
    };
    const failed = (err: unknown) => {
      this.releases.push(...events);
      this.hooks.storageFailed('release', 'put events back into', err);
    };
    try {
      const pending = this.storage.release(events);
      if (isPromise(pending)) return pending.then(done, failed);
      done(pending);
    } catch (err) {
      failed(err);
    }
    return undefined;
  }

  /** Events the storage refused to take at all: held in memory and offered again by `retry`. */
  hold(events: readonly QueuedEvent[], what: string, err: unknown): void {
    this.releases.push(...events);
    this.hooks.storageFailed('commit', what, err);
  }

  /** Events not in the storage, kept in memory (counted elsewhere) and offered again by `retry`. */
  keep(events: readonly QueuedEvent[]): void {
    this.releases.push(...events);
  }

  /** The storage refused an operation that holds nothing (a lease): reported only. */
  failed(op: StorageOp, what: string, err: unknown): void {
    this.hooks.storageFailed(op, what, err);
  }

  /** Retries what the storage refused earlier; true when nothing is held any more. */
  async retry(): Promise<boolean> {
    if (this.acks.length > 0) await this.ack(this.acks.splice(0));
    if (this.releases.length > 0) {
      const events = this.releases.splice(0);
      this.retrying = events;
      try {
        await this.release(events);
      } finally {
        this.retrying = [];
      }
    }
    return this.acks.length === 0 && this.releases.length === 0;
  }

  /** Hands over the held releases (at shutdown, when the storage is about to close). */
  takeHeld(): QueuedEvent[] {
    return this.releases.splice(0);
  }
}
