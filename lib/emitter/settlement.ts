import { EventStorage, StorageOp } from '../storage/event-storage.interface';
import { QueuedEvent } from '../storage/queued-event';

/**
 * Acks and releases of leased events. When the storage refuses one (disk full, a lock timeout),
 * the events are held here and the call is retried before the next lease, so an event is never
 * lost to a storage error: an ack held is an event not sent twice, a release held is an event
 * still queued (in memory).
 */
export class Settlement {
  private readonly acks: QueuedEvent[] = [];
  private readonly releases: QueuedEvent[] = [];

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
    return this.releases;
  }

  /** Done with leased events (delivered or dropped for good). */
  ack(events: readonly QueuedEvent[]): void {
    if (events.length === 0) return;
    try {
      this.storage.ack(events);
    } catch (err) {
      this.acks.push(...events);
      this.hooks.storageFailed('ack', 'delete delivered events from', err);
    }
  }

  /** Leased (or never stored) events go back to the queue. */
  release(events: readonly QueuedEvent[]): void {
    if (events.length === 0) return;
    try {
      const overwritten = this.storage.release(events);
      if (overwritten > 0) this.hooks.overwritten(overwritten);
    } catch (err) {
      this.releases.push(...events);
      this.hooks.storageFailed('release', 'put events back into', err);
    }
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
  retry(): boolean {
    if (this.acks.length > 0) this.ack(this.acks.splice(0));
    if (this.releases.length > 0) this.release(this.releases.splice(0));
    return this.acks.length === 0 && this.releases.length === 0;
  }

  /** Hands over the held releases (at shutdown, when the storage is about to close). */
  takeHeld(): QueuedEvent[] {
    return this.releases.splice(0);
  }
}
