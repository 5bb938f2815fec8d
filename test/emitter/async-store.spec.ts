// The relay half of the storage contract may answer with promises (a database store does), and a
// rejection is handled exactly like a thrown error: the events are held and the call is retried
// before the next lease, so nothing is lost or sent twice. Every track result carries `committed`.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Emitter, EventStorage, QueuedEvent, RingBufferStorage, Tracker } from '../../lib/core';
import { LocalCollector, startLocalCollector } from '../../lib/testing/local-collector';
import { waitFor } from '../support/wait-for';

const BILL = { category: 'c', eventType: 'seats', realm: 'SM' as const, unitOfMeasure: 'seat', quantity: 1 };

/**
 * A caller's store that answers the relay half with promises, as a database store does, over a
 * ring buffer. Each operation named in `rejectNext` rejects that many times (nothing done), then works.
 */
class PromiseStore implements EventStorage {
  readonly inner = new RingBufferStorage(10_000, 10_000);
  readonly capacity = this.inner.capacity;
  readonly billingCapacity = this.inner.billingCapacity;
  readonly durable = false;
  readonly rejectNext = { lease: 0, ack: 0, release: 0 };
  readonly calls = { lease: 0, ack: 0, release: 0, rejected: 0 };
  acked = 0;
  get size(): number {
    return this.inner.size;
  }
  sizeOf(kind: 'billing' | 'custom'): number {
    return this.inner.sizeOf(kind);
  }
  add(event: QueuedEvent): number {
    return this.inner.add(event);
  }
  addBatch(events: readonly QueuedEvent[]): number {
    return this.inner.addBatch(events);
  }
  async lease(maxCount: number, maxBytes?: number): Promise<QueuedEvent[]> {
    await this.turn('lease');
    return this.inner.lease(maxCount, maxBytes);
  }
  async ack(events: readonly QueuedEvent[]): Promise<void> {
    await this.turn('ack');
    this.inner.ack();
    this.acked += events.length;
  }
  /** Set: the next release waits until it is resolved (a retried release on its way). */
  releaseGate?: Promise<void>;
  /** Set: becomes `releaseGate` when a release is rejected, so the release that retries it waits. */
  gateAfterRejectedRelease?: Promise<void>;
  async release(events: readonly QueuedEvent[]): Promise<number> {
    try {
      await this.turn('release');
    } catch (err) {
      this.releaseGate = this.gateAfterRejectedRelease;
      this.gateAfterRejectedRelease = undefined;
      throw err;
    }
    const gate = this.releaseGate;
    if (gate) {
      this.releaseGate = undefined;
      await gate;
    }
    return this.inner.release(events);
  }
  private async turn(op: 'lease' | 'ack' | 'release'): Promise<void> {
    this.calls[op]++;
    // Answer on a later turn of the event loop, as a database would.
    await new Promise((resolve) => setImmediate(resolve));
    if (this.rejectNext[op] > 0) {
      this.rejectNext[op]--;
      this.calls.rejected++;
      throw new Error(`connection terminated during ${op}`);
    }
  }
}

describe('a store that answers with promises', () => {
  let collector: LocalCollector;
  const emitters: Emitter[] = [];
  let dir: string;

  beforeEach(async () => {
    collector = await startLocalCollector();
    dir = mkdtempSync(join(tmpdir(), 'snowplow-async-store-'));
  });
  afterEach(async () => {
    await Promise.all(emitters.splice(0).map((e) => e.stop()));
    await collector.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const start = (storage: EventStorage | { type: 'sqlite'; path: string } | undefined, extra = {}) => {
    const emitter = new Emitter({
      collectorUrl: collector.endpoint,
      storage,
      batchSize: 10,
      lingerMs: 0,
      backoff: { baseMs: 1, capMs: 5 },
      logger: { log: () => undefined, warn: () => undefined, error: () => undefined },
      ...extra,
    });
    emitters.push(emitter);
    emitter.start();
    return { emitter, tracker: new Tracker({ appId: 'async-store', emitter }) };
  };

  it('delivers every event exactly once through awaited leases, acks and releases', async () => {
    const store = new PromiseStore();
    const { emitter, tracker } = start(store);
    const eids = new Set<string>();
    for (let i = 0; i < 95; i++) eids.add(tracker.trackEvent('e', { i }).eid);
    for (let i = 0; i < 5; i++) eids.add(tracker.trackBillingEvent(BILL).eid);
    expect(await emitter.drain(20_000)).toMatchObject({ drained: true, remaining: 0 });
    expect(collector.counts().accepted).toEqual({ total: 100, distinct: 100 });
    expect(new Set(collector.events().map((e) => e.eid))).toEqual(eids);
    expect(store.calls.ack).toBeGreaterThanOrEqual(1);
    expect(emitter.stats()).toMatchObject({ sent: 100, queued: 0, inFlight: 0, storageErrors: 0 });
  });

  it('rejected acks are held and retried: no event is sent twice, every one arrives', async () => {
    const store = new PromiseStore();
    store.rejectNext.ack = 3;
    const { emitter, tracker } = start(store);
    for (let i = 0; i < 40; i++) tracker.trackEvent('e', { i });
    await waitFor(() => emitter.stats().sent === 40 && store.rejectNext.ack === 0, { what: '40 sent' });
    // The loop retries the held acks even with nothing queued (drain() does not wait for them).
    await waitFor(() => store.acked === 40, { what: 'the held acks retried' });
    expect(await emitter.drain(20_000)).toMatchObject({ drained: true });
    expect(collector.counts().accepted).toEqual({ total: 40, distinct: 40 });
    expect(emitter.stats().storageErrors).toBe(3);
    // The memory store handed the events over at lease: a held ack is retried, never re-sent.
    expect(store.inner.size).toBe(0);
    expect(store.acked).toBe(40);
  });

  it('rejected releases are held in memory and sent once the store answers again', async () => {
    const store = new PromiseStore();
    collector.behaviour = () => ({ status: 503 });
    const { emitter, tracker } = start(store, { maxAttempts: 100 });
    for (let i = 0; i < 20; i++) tracker.trackBillingEvent(BILL);
    store.rejectNext.release = 2;
    await waitFor(() => store.calls.rejected === 2, { what: 'two releases rejected' });
    // Held, not lost: the queue still counts them.
    expect(emitter.stats().billing.queued + emitter.stats().inFlight).toBe(20);
    collector.behaviour = undefined;
    expect(await emitter.drain(20_000)).toMatchObject({ drained: true, remaining: 0 });
    expect(collector.counts().accepted).toEqual({ total: 20, distinct: 20 });
    expect(emitter.stats().dropped.shutdown + emitter.stats().dropped.expired).toBe(0);
  });

  it('while a held release is retried, its events still count: drain() does not report an empty queue', async () => {
    const store = new PromiseStore();
    collector.behaviour = () => ({ status: 503 });
    const { emitter, tracker } = start(store, { maxAttempts: 100 });
    for (let i = 0; i < 10; i++) tracker.trackBillingEvent(BILL);
    let open!: () => void;
    store.gateAfterRejectedRelease = new Promise<void>((resolve) => (open = resolve));
    store.rejectNext.release = 1;
    await waitFor(() => store.calls.rejected === 1, { what: 'a release rejected' });
    // The events are held; the next pass retries their release, which waits on the store.
    await waitFor(() => store.releaseGate === undefined && store.calls.release >= 2, {
      what: 'the held release retried, and waiting on the store',
    });
    expect(emitter.stats().inFlight).toBe(0);
    expect(emitter.stats().billing.queued).toBe(10);
    expect(emitter.queueDepth).toBe(10);
    await expect(emitter.drain(50)).resolves.toMatchObject({ drained: false, remaining: 10 });
    collector.behaviour = undefined;
    open();
    await expect(emitter.drain(20_000)).resolves.toMatchObject({ drained: true, remaining: 0 });
    expect(collector.counts().accepted).toEqual({ total: 10, distinct: 10 });
  });

  it('a rejected lease takes nothing and the loop backs off, then delivers', async () => {
    const store = new PromiseStore();
    store.rejectNext.lease = 2;
    const { emitter, tracker } = start(store);
    for (let i = 0; i < 12; i++) tracker.trackEvent('e', { i });
    expect(await emitter.drain(20_000)).toMatchObject({ drained: true });
    expect(collector.counts().accepted).toEqual({ total: 12, distinct: 12 });
    expect(store.calls.rejected).toBe(2);
    expect(emitter.stats().storageErrors).toBe(2);
  });

  it('committed: memory resolves not durable; SQLite billing is already committed, custom at the end of the tick', async () => {
    const memory = start(undefined).tracker;
    await expect(memory.trackEvent('m').committed).resolves.toEqual({ durable: false });
    await expect(memory.trackBillingEvent(BILL).committed).resolves.toEqual({ durable: false });

    const path = join(dir, 'outbox.db');
    collector.behaviour = () => ({ status: 503 }); // keep the rows in the file while we look
    const { emitter, tracker } = start({ type: 'sqlite', path }, { maxAttempts: 100 });
    const bill = tracker.trackBillingEvent(BILL);
    const custom = tracker.trackEvent('c');
    const inFile = (eid: string) => {
      const db = new Database(path, { readonly: true, fileMustExist: true });
      try {
        return (db.prepare('SELECT count(*) AS n FROM snowplow_events WHERE eid = ?').get(eid) as { n: number }).n;
      } finally {
        db.close();
      }
    };
    let customSettled = false;
    void custom.committed.then(() => (customSettled = true));
    await expect(bill.committed).resolves.toEqual({ durable: true });
    // The custom event waits for the end-of-tick write; the billing one was committed in the call.
    expect(customSettled).toBe(false);
    await expect(custom.committed).resolves.toEqual({ durable: true });
    await emitter.stop(); // releases the file's lock; the rows stay for the next start
    expect(inFile(bill.eid)).toBe(1);
    expect(inFile(custom.eid)).toBe(1);
  });
});
