import { InvalidOptionError } from '../errors';
import type { EventKind } from '../tracker/payload';
import { kindOf, SyncEventStorage } from './event-storage.interface';
import { Fifo } from './fifo';
import { QueuedEvent } from './queued-event';

export const DEFAULT_CAPACITY = 10_000;
export const DEFAULT_BILLING_CAPACITY = 10_000;

function assertCount(name: string, value: unknown): asserts value is number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new InvalidOptionError(name, 'must be a non-negative integer');
  }
}

function assertCapacity(name: string, value: unknown): asserts value is number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
    throw new InvalidOptionError(name, 'must be a positive integer');
  }
}

/**
 * In-memory storage: a fixed-capacity ring for custom events, allocated once, whose oldest event
 * is overwritten when full (counted in `overwritten`), and a FIFO for billing events that is
 * never overwritten.
 */
export class RingBufferStorage implements SyncEventStorage {
  /** {@inheritDoc EventStorage.capacity} */
  readonly capacity: number;
  /** {@inheritDoc EventStorage.billingCapacity} */
  readonly billingCapacity: number;
  /** In memory: events do not survive a restart. */
  readonly durable = false;
  private readonly custom: Fifo<QueuedEvent>;
  private readonly billing = new Fifo<QueuedEvent>();
  private overwrites = 0;

  constructor(capacity: number = DEFAULT_CAPACITY, billingCapacity: number = DEFAULT_BILLING_CAPACITY) {
    assertCapacity('capacity', capacity);
    assertCapacity('billing.capacity', billingCapacity);
    this.capacity = capacity;
    this.billingCapacity = billingCapacity;
    this.custom = new Fifo<QueuedEvent>(capacity);
  }

  /** {@inheritDoc EventStorage.size} */
  get size(): number {
    return this.custom.size + this.billing.size;
  }

  /** {@inheritDoc EventStorage.sizeOf} */
  sizeOf(kind: EventKind): number {
    return kind === 'billing' ? this.billing.size : this.custom.size;
  }

  /** Custom events overwritten since construction. */
  get overwritten(): number {
    return this.overwrites;
  }

  /** {@inheritDoc EventStorage.add} */
  add(event: QueuedEvent): number {
    if (kindOf(event) === 'billing') {
      this.billing.push(event);
      return 0;
    }
    let dropped = 0;
    if (this.custom.size === this.capacity) {
      this.custom.shift();
      dropped = 1;
    }
    this.custom.push(event);
    this.overwrites += dropped;
    return dropped;
  }

  /** {@inheritDoc EventStorage.addBatch} */
  addBatch(events: readonly QueuedEvent[]): number {
    if (!Array.isArray(events)) throw new InvalidOptionError('events', 'must be an array');
    let dropped = 0;
    for (const event of events) dropped += this.add(event);
    return dropped;
  }

  /** {@inheritDoc EventStorage.lease} */
  lease(maxCount: number, maxBytes?: number): QueuedEvent[] {
    assertCount('maxCount', maxCount);
    if (maxBytes !== undefined) assertCount('maxBytes', maxBytes);
    const out: QueuedEvent[] = [];
    const budget = { bytes: 0 };
    if (take(this.billing, out, maxCount, maxBytes, budget)) take(this.custom, out, maxCount, maxBytes, budget);
    return out;
  }

  /** {@inheritDoc EventStorage.ack} */
  ack(): void {}

  /** {@inheritDoc EventStorage.release} */
  release(events: readonly QueuedEvent[]): number {
    return this.addBatch(events);
  }
}

/** Moves events from `lane` to `out` within the bounds; false once the byte budget stopped it. */
function take(
  lane: Fifo<QueuedEvent>,
  out: QueuedEvent[],
  maxCount: number,
  maxBytes: number | undefined,
  budget: { bytes: number },
): boolean {
  while (out.length < maxCount && lane.size > 0) {
    const event = lane.peek() as QueuedEvent;
    if (maxBytes !== undefined && out.length > 0 && budget.bytes + event.bytes > maxBytes) return false;
    budget.bytes += event.bytes;
    out.push(event);
    lane.shift();
  }
  return true;
}
