import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SyncEventStorage, QueuedEvent, RingBufferStorage, SqliteStorage } from '../../lib/core';
import { take } from './support/take';

const event = (n: number, bytes = 10): QueuedEvent => ({
  eid: `e${n}`,
  dtm: 1_700_000_000_000 + n,
  json: `{"n":"${n}"}`,
  bytes,
  attempts: 0,
});
const bill = (n: number, bytes = 10): QueuedEvent => ({ ...event(n, bytes), eid: `b${n}`, kind: 'billing' });
const eids = (events: QueuedEvent[]) => events.map((e) => e.eid);
/** Lets a durable store write what it batched in this tick. */
const nextTick = () => new Promise((resolve) => setImmediate(resolve));

const dirs: string[] = [];
afterAll(() => dirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

const implementations: Array<[string, (capacity: number, billingCapacity?: number) => SyncEventStorage]> = [
  ['RingBufferStorage', (capacity, billingCapacity) => new RingBufferStorage(capacity, billingCapacity)],
  [
    'SqliteStorage',
    (capacity, billingCapacity) => {
      const dir = mkdtempSync(join(tmpdir(), 'snowplow-contract-'));
      dirs.push(dir);
      return new SqliteStorage({ path: join(dir, 'outbox.db'), capacity, billingCapacity });
    },
  ],
];

describe.each(implementations)('%s passes the storage contract', (_name, create) => {
  let storage: SyncEventStorage;
  const make = (capacity: number, billingCapacity?: number) => (storage = create(capacity, billingCapacity));
  afterEach(() => storage.close?.());

  it('returns events oldest first and removes them', async () => {
    make(5);
    for (let i = 1; i <= 4; i++) storage.add(event(i));
    await nextTick();
    expect(eids(take(storage, 2))).toEqual(['e1', 'e2']);
    expect(storage.size).toBe(2);
    storage.add(event(5));
    expect(eids(take(storage, 10))).toEqual(['e3', 'e4', 'e5']);
    expect(storage.size).toBe(0);
  });

  it('keeps every field of an event', () => {
    make(5);
    const original: QueuedEvent = { ...event(1, 77), attempts: 3, kind: 'custom' };
    storage.add(original);
    const [back] = take(storage, 1);
    expect({ ...back, id: undefined }).toEqual({ ...original, id: undefined });
  });

  it('overwrites the oldest event when full and reports each overwrite', () => {
    make(3);
    expect([1, 2, 3].map((i) => storage.add(event(i)))).toEqual([0, 0, 0]);
    expect(storage.add(event(4))).toBe(1);
    expect(storage.addBatch([event(5), event(6)])).toBe(2);
    expect(storage.size).toBe(3);
    expect(eids(take(storage, 10))).toEqual(['e4', 'e5', 'e6']);
  });

  it('get(n) respects its bounds and a byte budget (always at least one event)', () => {
    make(10);
    expect(take(storage, 5)).toEqual([]);
    storage.addBatch([event(1, 40), event(2, 40), event(3, 40), event(4, 500)]);
    expect(take(storage, 0)).toEqual([]);
    expect(() => take(storage, -1)).toThrow();
    expect(eids(take(storage, 10, 100))).toEqual(['e1', 'e2']);
    expect(eids(take(storage, 10, 100))).toEqual(['e3']);
    expect(eids(take(storage, 10, 100))).toEqual(['e4']);
  });

  it('lease takes events out of the queue; ack forgets them', () => {
    make(10);
    storage.addBatch([1, 2, 3, 4].map((i) => event(i)));
    const leased = storage.lease(2);
    expect(eids(leased)).toEqual(['e1', 'e2']);
    expect(storage.size).toBe(2);
    expect(eids(storage.lease(10))).toEqual(['e3', 'e4']);
    storage.ack(leased);
    expect(storage.size).toBe(0);
    expect(storage.lease(10)).toEqual([]);
  });

  it('release puts leased events back at the end of the queue with their attempts', () => {
    make(10);
    storage.addBatch([1, 2, 3].map((i) => event(i)));
    const leased = storage.lease(2);
    storage.add(event(4));
    leased.forEach((e) => e.attempts++);
    expect(storage.release(leased)).toBe(0);
    const all = take(storage, 10);
    expect(eids(all)).toEqual(['e3', 'e4', 'e1', 'e2']);
    expect(all.map((e) => e.attempts)).toEqual([0, 0, 1, 1]);
  });

  it('release into a full queue overwrites the oldest waiting events, and every overwrite is reported once', () => {
    make(3);
    storage.addBatch([1, 2].map((i) => event(i)));
    const leased = storage.lease(2);
    // In memory the capacity bounds what waits; in a file it bounds the rows, in flight included,
    // so the overwrites are reported by the add there and by the release here.
    const overwritten = storage.addBatch([3, 4, 5].map((i) => event(i))) + storage.release(leased);
    expect(overwritten).toBe(2);
    expect(eids(take(storage, 10))).toEqual(['e5', 'e1', 'e2']);
  });

  it('behaves exactly like the reference ring buffer through many adds, leases, acks and releases', async () => {
    async function scenario(target: SyncEventStorage) {
      const delivered: string[] = [];
      let n = 0;
      let overwritten = 0;
      for (let round = 0; round < 40; round++) {
        for (let i = 0; i < 7; i++) overwritten += target.add(event(n++));
        if (round % 5 === 4) await nextTick();
        const leased = target.lease(5);
        if (round % 3 === 0) overwritten += target.release(leased);
        else {
          target.ack(leased);
          delivered.push(...eids(leased));
        }
      }
      return { delivered, overwritten, left: eids(take(target, 1_000)), n };
    }
    const result = await scenario(make(50));
    expect(result.overwritten).toBeGreaterThan(0);
    expect(result.delivered.length + result.left.length + result.overwritten).toBe(result.n);
    expect(result).toEqual(await scenario(new RingBufferStorage(50)));
  });

  describe('two lanes: billing and custom', () => {
    it("reports each lane's capacity, size and whether it is durable", () => {
      make(3, 7);
      expect([storage.capacity, storage.billingCapacity]).toEqual([3, 7]);
      storage.addBatch([event(1), bill(1), bill(2)]);
      expect([storage.size, storage.sizeOf('custom'), storage.sizeOf('billing')]).toEqual([3, 1, 2]);
      expect(storage.durable).toBe(storage instanceof SqliteStorage);
    });

    it('leases billing events first, then custom ones, oldest first in each lane', async () => {
      make(10);
      storage.add(event(1));
      storage.add(bill(1));
      storage.add(event(2));
      storage.add(bill(2));
      await nextTick();
      expect(eids(storage.lease(3))).toEqual(['b1', 'b2', 'e1']);
      expect(eids(storage.lease(3))).toEqual(['e2']);
    });

    it('a custom event never evicts a billing event: 1,000 custom events into a capacity of 10 leave the billing event', () => {
      make(10);
      storage.add(bill(1));
      let overwritten = 0;
      for (let i = 0; i < 1_000; i++) overwritten += storage.add(event(i));
      expect(overwritten).toBe(990);
      expect(storage.sizeOf('billing')).toBe(1);
      const all = storage.lease(1_000);
      expect(all[0]).toMatchObject({ eid: 'b1', kind: 'billing' });
      expect(eids(all.slice(1))).toEqual(Array.from({ length: 10 }, (_, i) => `e${990 + i}`));
    });

    it('released billing events go back to their lane, even past its capacity, and keep their kind', () => {
      make(2, 2);
      storage.addBatch([bill(1), bill(2)]);
      const leased = storage.lease(2);
      storage.add(bill(3));
      storage.add(bill(4));
      expect(storage.release(leased)).toBe(0);
      expect(storage.sizeOf('billing')).toBe(4);
      const back = storage.lease(10);
      expect(eids(back)).toEqual(['b3', 'b4', 'b1', 'b2']);
      expect(back.every((e) => e.kind === 'billing')).toBe(true);
    });

    it('the byte budget spans both lanes', () => {
      make(10);
      storage.addBatch([bill(1, 60), event(1, 30), event(2, 30)]);
      expect(eids(storage.lease(10, 100))).toEqual(['b1', 'e1']);
      expect(eids(storage.lease(10, 100))).toEqual(['e2']);
    });
  });
});
