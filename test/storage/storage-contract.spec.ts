import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EventStorage, QueuedEvent, RingBufferStorage, SqliteStorage } from '../../lib';

const event = (n: number, bytes = 10): QueuedEvent => ({ eid: `e${n}`, dtm: 1_700_000_000_000 + n, json: `{"n":"${n}"}`, bytes, attempts: 0 });
const eids = (events: QueuedEvent[]) => events.map((e) => e.eid);
/** Lets a durable store write what it batched in this tick. */
const nextTick = () => new Promise((resolve) => setImmediate(resolve));

const dirs: string[] = [];
afterAll(() => dirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

const implementations: Array<[string, (capacity: number) => EventStorage]> = [
  ['RingBufferStorage', (capacity) => new RingBufferStorage(capacity)],
  [
    'SqliteStorage',
    (capacity) => {
      const dir = mkdtempSync(join(tmpdir(), 'snowplow-contract-'));
      dirs.push(dir);
      return new SqliteStorage({ path: join(dir, 'outbox.db'), capacity });
    },
  ],
];

describe.each(implementations)('%s passes the storage contract', (_name, create) => {
  let storage: EventStorage;
  const make = (capacity: number) => (storage = create(capacity));
  afterEach(() => storage.close?.());

  it('returns events oldest first and removes them', async () => {
    make(5);
    for (let i = 1; i <= 4; i++) storage.add(event(i));
    await nextTick();
    expect(eids(storage.get(2))).toEqual(['e1', 'e2']);
    expect(storage.size).toBe(2);
    storage.add(event(5));
    expect(eids(storage.get(10))).toEqual(['e3', 'e4', 'e5']);
    expect(storage.size).toBe(0);
  });

  it('keeps every field of an event', () => {
    make(5);
    const original = { ...event(1, 77), attempts: 3 };
    storage.add(original);
    const [back] = storage.get(1);
    expect({ ...back, id: undefined }).toEqual({ ...original, id: undefined });
  });

  it('overwrites the oldest event when full and reports each overwrite', () => {
    make(3);
    expect([1, 2, 3].map((i) => storage.add(event(i)))).toEqual([0, 0, 0]);
    expect(storage.add(event(4))).toBe(1);
    expect(storage.addBatch([event(5), event(6)])).toBe(2);
    expect(storage.size).toBe(3);
    expect(eids(storage.get(10))).toEqual(['e4', 'e5', 'e6']);
  });

  it('get(n) respects its bounds and a byte budget (always at least one event)', () => {
    make(10);
    expect(storage.get(5)).toEqual([]);
    storage.addBatch([event(1, 40), event(2, 40), event(3, 40), event(4, 500)]);
    expect(storage.get(0)).toEqual([]);
    expect(() => storage.get(-1)).toThrow();
    expect(eids(storage.get(10, 100))).toEqual(['e1', 'e2']);
    expect(eids(storage.get(10, 100))).toEqual(['e3']);
    expect(eids(storage.get(10, 100))).toEqual(['e4']);
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
    const all = storage.get(10);
    expect(eids(all)).toEqual(['e3', 'e4', 'e1', 'e2']);
    expect(all.map((e) => e.attempts)).toEqual([0, 0, 1, 1]);
  });

  it('release into a full queue overwrites the oldest waiting events and says how many', () => {
    make(3);
    storage.addBatch([1, 2].map((i) => event(i)));
    const leased = storage.lease(2);
    storage.addBatch([3, 4, 5].map((i) => event(i)));
    expect(storage.release(leased)).toBe(2);
    expect(eids(storage.get(10))).toEqual(['e5', 'e1', 'e2']);
  });

  it('behaves exactly like the reference ring buffer through many adds, leases, acks and releases', async () => {
    async function scenario(target: EventStorage) {
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
      return { delivered, overwritten, left: eids(target.get(1_000)), n };
    }
    const result = await scenario(make(50));
    expect(result.overwritten).toBeGreaterThan(0);
    expect(result.delivered.length + result.left.length + result.overwritten).toBe(result.n);
    expect(result).toEqual(await scenario(new RingBufferStorage(50)));
  });

});
