import { InvalidOptionError, QueuedEvent, RingBufferStorage } from '../../lib/core';
import { take } from './support/take';

const event = (n: number, bytes = 10): QueuedEvent => ({ eid: `e${n}`, dtm: n, json: '{}', bytes, attempts: 0 });
const eids = (events: QueuedEvent[]) => events.map((e) => e.eid);

describe('RingBufferStorage', () => {
  it('defaults to a capacity of 10,000 and rejects a capacity that is not a positive integer', () => {
    expect(new RingBufferStorage().capacity).toBe(10_000);
    for (const bad of [0, -1, 1.5, NaN, '10' as unknown as number]) {
      expect(() => new RingBufferStorage(bad)).toThrow(InvalidOptionError);
    }
  });

  it('returns events oldest first and removes them', () => {
    const storage = new RingBufferStorage(5);
    for (let i = 1; i <= 4; i++) storage.add(event(i));
    expect(eids(take(storage, 2))).toEqual(['e1', 'e2']);
    expect(storage.size).toBe(2);
    storage.add(event(5));
    expect(eids(take(storage, 10))).toEqual(['e3', 'e4', 'e5']);
    expect(storage.size).toBe(0);
  });

  it('overwrites the oldest event when full and counts each overwrite', () => {
    const storage = new RingBufferStorage(3);
    expect([1, 2, 3].map((i) => storage.add(event(i)))).toEqual([0, 0, 0]);
    expect(storage.add(event(4))).toBe(1);
    expect(storage.add(event(5))).toBe(1);
    expect(storage.overwritten).toBe(2);
    expect(eids(take(storage, 3))).toEqual(['e3', 'e4', 'e5']);
  });

  it('keeps FIFO order across many wrap-arounds', () => {
    const storage = new RingBufferStorage(7);
    const seen: string[] = [];
    for (let i = 0; i < 1000; i++) {
      storage.add(event(i));
      if (i % 3 === 2) seen.push(...eids(take(storage, 2)));
    }
    seen.push(...eids(take(storage, 100)));
    const order = seen.map((id) => Number(id.slice(1)));
    expect(order).toEqual([...order].sort((a, b) => a - b));
    expect(storage.overwritten + seen.length).toBe(1000);
  });

  it('addBatch stores every event of the batch in order and reports overwrites', () => {
    const storage = new RingBufferStorage(4);
    storage.add(event(1));
    storage.add(event(2));
    expect(storage.addBatch([event(3), event(4), event(5)])).toBe(1);
    expect(eids(take(storage, 4))).toEqual(['e2', 'e3', 'e4', 'e5']);
  });

  it('addBatch changes nothing when its argument is not an array', () => {
    const storage = new RingBufferStorage(4);
    storage.add(event(1));
    expect(() => storage.addBatch('x' as unknown as QueuedEvent[])).toThrow(InvalidOptionError);
    expect(storage.size).toBe(1);
  });

  it('addBatch larger than the capacity keeps the newest events', () => {
    const storage = new RingBufferStorage(3);
    expect(storage.addBatch([1, 2, 3, 4, 5].map((i) => event(i)))).toBe(2);
    expect(eids(take(storage, 10))).toEqual(['e3', 'e4', 'e5']);
  });

  it('get(n) respects its bounds: 0, more than held, negative or fractional', () => {
    const storage = new RingBufferStorage(3);
    expect(take(storage, 5)).toEqual([]);
    storage.add(event(1));
    expect(take(storage, 0)).toEqual([]);
    expect(storage.size).toBe(1);
    expect(() => take(storage, -1)).toThrow(InvalidOptionError);
    expect(() => take(storage, 1.5)).toThrow(InvalidOptionError);
    expect(eids(take(storage, 99))).toEqual(['e1']);
  });

  it('get(n, maxBytes) stops before the byte budget but always returns one event', () => {
    const storage = new RingBufferStorage(10);
    storage.addBatch([event(1, 40), event(2, 40), event(3, 40), event(4, 500)]);
    expect(eids(take(storage, 10, 100))).toEqual(['e1', 'e2']);
    expect(eids(take(storage, 10, 100))).toEqual(['e3']);
    expect(eids(take(storage, 10, 100))).toEqual(['e4']);
  });
});
