/**
 * A first-in, first-out queue on a circular array. It starts with `initialSlots` slots and
 * doubles when full, so a queue sized up front never reallocates.
 */
export class Fifo<T> {
  private slots: Array<T | undefined>;
  private head = 0;
  private count = 0;

  constructor(initialSlots = 16) {
    this.slots = new Array<T | undefined>(Math.max(1, initialSlots)).fill(undefined);
  }

  get size(): number {
    return this.count;
  }

  push(item: T): void {
    if (this.count === this.slots.length) this.grow();
    this.slots[(this.head + this.count) % this.slots.length] = item;
    this.count++;
  }

  /** The oldest item, left in place. */
  peek(): T | undefined {
    return this.count === 0 ? undefined : this.slots[this.head];
  }

  /** Removes and returns the oldest item. */
  shift(): T | undefined {
    if (this.count === 0) return undefined;
    const item = this.slots[this.head];
    this.slots[this.head] = undefined;
    this.head = (this.head + 1) % this.slots.length;
    this.count--;
    return item;
  }

  private grow(): void {
    const old = this.slots;
    const next = new Array<T | undefined>(old.length * 2).fill(undefined);
    for (let i = 0; i < this.count; i++) next[i] = old[(this.head + i) % old.length];
    this.slots = next;
    this.head = 0;
  }
}
