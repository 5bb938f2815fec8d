import { InvalidOptionError } from '../errors';
import { EventStorage } from './event-storage.interface';
import { QueuedEvent } from './queued-event';

export const DEFAULT_CAPACITY = 10_000;

function assertCount(name: string, value: unknown): asserts value is number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new InvalidOptionError(name, 'must be a non-negative integer');
  }
}

/**
 * A fixed-capacity FIFO allocated once. When full, the oldest event is overwritten and the
 * overwrite is counted in `overwritten`.
 */
export class RingBufferStorage implements EventStorage {
  readonly capacity: number;
  private readonly slots: Array<QueuedEvent | undefined>;
  /** Index of the oldest event. */
  private head = 0;
  private count = 0;
  private overwrites = 0;

  constructor(capacity: number = DEFAULT_CAPACITY) {
    if (typeof capacity !== 'number' || !Number.isSafeInteger(capacity) || capacity < 1) {
      throw new InvalidOptionError('capacity', 'must be a positive integer');
    }
    this.capacity = capacity;
    this.slots = new Array<QueuedEvent | undefined>(capacity).fill(undefined);
  }

  get size(): number {
    return this.count;
  }

  /** Events overwritten since construction. */
  get overwritten(): number {
    return this.overwrites;
  }

  add(event: QueuedEvent): number {
    let dropped = 0;
    if (this.count === this.capacity) {
      this.head = (this.head + 1) % this.capacity;
      this.count--;
      dropped = 1;
    }
    this.slots[(this.head + this.count) % this.capacity] = event;
    this.count++;
    this.overwrites += dropped;
    return dropped;
  }

  addBatch(events: readonly QueuedEvent[]): number {
    if (!Array.isArray(events)) throw new InvalidOptionError('events', 'must be an array');
    let dropped = 0;
    for (const event of events) dropped += this.add(event);
    return dropped;
  }

  /** In memory a lease is a `get`: the emitter holds leased events until it acks or releases them. */
  lease(maxCount: number, maxBytes?: number): QueuedEvent[] {
    return this.get(maxCount, maxBytes);
  }

  ack(): void {}

  release(events: readonly QueuedEvent[]): number {
    return this.addBatch(events);
  }

  get(maxCount: number, maxBytes?: number): QueuedEvent[] {
    assertCount('maxCount', maxCount);
    if (maxBytes !== undefined) assertCount('maxBytes', maxBytes);
    const out: QueuedEvent[] = [];
    let bytes = 0;
    while (out.length < maxCount && this.count > 0) {
      const event = this.slots[this.head] as QueuedEvent;
      if (maxBytes !== undefined && out.length > 0 && bytes + event.bytes > maxBytes) break;
      bytes += event.bytes;
      out.push(event);
      this.slots[this.head] = undefined;
      this.head = (this.head + 1) % this.capacity;
      this.count--;
    }
    return out;
  }
}
