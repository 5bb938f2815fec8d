// Regressions for failure paths: nothing an odd token source, storage, password or shutdown does
// may lose an accepted event or stall the loop.
import axios from 'axios';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import {
  Emitter,
  EventStorage,
  QueuedEvent,
  RingBufferStorage,
  SendResult,
  SnowplowModule,
  SqliteStorage,
  TokenSource,
  Tracker,
  TrackerService,
} from '../../lib';
import { clampTimeout } from '../../lib/utils';
import { decodeAccepted } from '../support/decode';
import { quietLogger, useEmitterHarness } from '../support/emitter-harness';
import { createApp } from '../support/nest';
import { waitFor } from '../support/wait-for';

/**
 * A ring buffer whose ack/release fail the first `failures` times: the emitter's side of a full
 * disk. Its ack keeps nothing, so what a failed delete leaves in a real file is tested on SQLite
 * in test/storage/sqlite-outbox.spec.ts.
 */
class FlakyStorage extends RingBufferStorage {
  constructor(
    capacity: number,
    private releaseFailures: number,
    private ackFailures: number,
  ) {
    super(capacity);
  }
  override release(events: readonly QueuedEvent[]): number {
    if (this.releaseFailures-- > 0) throw new Error('SQLITE_FULL: database or disk is full');
    return super.release(events);
  }
  override ack(): void {
    if (this.ackFailures-- > 0) throw new Error('SQLITE_BUSY: database is locked');
  }
}

describe('failure paths keep every event', () => {
  const harness = useEmitterHarness();

  it('a token source whose invalidate() throws on a 401 loses nothing', async () => {
    let calls = 0;
    const tokenSource: TokenSource = {
      async enhanceHeader(headers) {
        headers.Authorization = `Bearer ${++calls}`;
      },
      invalidate() {
        throw new Error('invalidate exploded');
      },
    };
    harness.collector.behaviour = (_r, index) => (index === 0 ? { status: 401 } : { status: 200 });
    const { tracker, emitter } = harness.start({ tokenSource, backoff: { baseMs: 1, capMs: 5 } });
    const { eid } = tracker.trackBillingEvent({
      category: 'c',
      eventType: 'seats',
      realm: 'SM',
      unitOfMeasure: 'seat',
      quantity: 1,
    });
    await harness.collector.waitForEvents(1);
    expect(decodeAccepted(harness.collector).map((e) => e.eid)).toEqual([eid]);
    expect(emitter.stats().dropped).toEqual({
      overflow: 0,
      rejected: 0,
      too_large: 0,
      expired: 0,
      shutdown: 0,
      not_stored: 0,
    });
  });

  it('a collector password with a stray % does not turn local errors into lost batches', async () => {
    await harness.collector.close();
    const url = new URL(harness.collector.endpoint);
    url.username = 'u';
    url.password = 'p%zz';
    const failures: SendResult[] = [];
    const { tracker } = harness.start({
      collectorUrl: url.href,
      backoff: { baseMs: 5, capMs: 20 },
      callback: (_s, f) => void failures.push(...f),
    });
    const { eid } = tracker.trackEvent('percent');
    await waitFor(() => failures.length >= 2, { what: 'refused attempts' });
    await harness.collector.reopen();
    await harness.collector.waitForEvents(1);
    expect(decodeAccepted(harness.collector)[0].eid).toBe(eid);
  });

  it('when the storage refuses a release, the emitter holds the events and retries; drain waits for them', async () => {
    harness.collector.behaviour = (_r, index) => (index === 0 ? { status: 500 } : { status: 200 });
    const storage = new FlakyStorage(100, 2, 0);
    const { tracker, emitter } = harness.start({ storage, backoff: { baseMs: 1, capMs: 5 } });
    const eids = Array.from({ length: 5 }, () => tracker.trackEvent('held').eid);
    const drained = await emitter.drain(30_000);
    expect(drained).toEqual({ sent: 5, remaining: 0, drained: true });
    expect(decodeAccepted(harness.collector).map((e) => e.eid)).toEqual(eids);
  });

  it('when the storage refuses an ack, it is retried and nothing is sent twice from memory', async () => {
    const storage = new FlakyStorage(100, 0, 1);
    const { tracker, emitter } = harness.start({ storage, maxConcurrentRequests: 1, batchSize: 2 });
    for (let i = 0; i < 4; i++) tracker.trackEvent('acked');
    await expect(emitter.drain(30_000)).resolves.toMatchObject({ sent: 4, drained: true });
    expect(new Set(decodeAccepted(harness.collector).map((e) => e.eid)).size).toBe(4);
    expect(decodeAccepted(harness.collector)).toHaveLength(4);
  });

  it('stop() does not wait for a token source that never answers', async () => {
    const tokenSource: TokenSource = { enhanceHeader: () => new Promise<void>(() => undefined) };
    const failures: SendResult[] = [];
    const { tracker, emitter } = harness.start({ tokenSource, callback: (_s, f) => void failures.push(...f) });
    tracker.trackEvent('waiting-for-token');
    await waitFor(() => emitter.stats().inFlight === 1, { what: 'the request waiting for its token' });
    await emitter.stop();
    expect(emitter.stats().dropped.shutdown).toBe(1);
    expect(failures.map((f) => f.error?.message)).toEqual(['request aborted']);
  });

  it('app-wide axios defaults and interceptors never reach the collector', async () => {
    axios.defaults.headers.common['X-App-Secret'] = 'for-another-api';
    const seen: string[] = [];
    const interceptor = axios.interceptors.request.use((config) => {
      seen.push(String(config.url));
      return config;
    });
    try {
      const app = await createApp({
        imports: [
          SnowplowModule.forRoot({ collectorUrl: harness.collector.endpoint, appId: 'isolated', metrics: false }),
        ],
      });
      app.get(TrackerService).trackEvent('isolated');
      await harness.collector.waitForEvents(1);
      await app.close();
      expect(harness.collector.requests[0].headers['x-app-secret']).toBeUndefined();
      expect(seen).toEqual([]);
    } finally {
      delete axios.defaults.headers.common['X-App-Secret'];
      axios.interceptors.request.eject(interceptor);
    }
  });

  it('JSON.stringify and util.inspect of an emitter never show the URL password', () => {
    const emitter = new Emitter({ collectorUrl: 'https://svc:hunter2@collector.example.com/tp2', logger: quietLogger });
    expect(JSON.stringify(emitter)).toContain('//***:***@');
    expect(JSON.stringify(emitter)).not.toContain('hunter2');
    expect(inspect(emitter, { depth: 10 })).not.toContain('hunter2');
  });

  it('timeouts beyond what Node timers take are capped, not fired at once', () => {
    expect(clampTimeout(3e9)).toBe(2_147_483_647);
    expect(clampTimeout(Infinity)).toBe(2_147_483_647);
    expect(clampTimeout(NaN)).toBe(0);
    expect(clampTimeout(-5)).toBe(0);
  });
});

describe('durable outbox on shutdown and when shared', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'snowplow-robust-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));
  const harness = useEmitterHarness();

  it('stop() with maxAttempts: 1 keeps an aborted in-flight batch in the file (an abort is not an attempt)', async () => {
    harness.collector.behaviour = () => ({ hang: true });
    const path = join(dir, 'outbox.db');
    const { tracker, emitter } = harness.start({
      storage: { type: 'sqlite', path },
      maxAttempts: 1,
      requestTimeoutMs: 60_000,
    });
    for (let i = 0; i < 3; i++) tracker.trackEvent('in-flight-at-stop');
    await waitFor(() => harness.collector.requests.length === 1, { what: 'the hanging request' });
    await emitter.stop();
    expect(emitter.stats().dropped.expired).toBe(0);
    const reopened = new SqliteStorage({ path });
    expect(reopened.size).toBe(3);
    reopened.close();
  });

  it('two connections sharing a file (in one process) never lease the same events, and evictions by either are counted', () => {
    const path = join(dir, 'shared.db');
    const a = new SqliteStorage({ path, shared: true, capacity: 5 });
    const b = new SqliteStorage({ path, shared: true, capacity: 5 });
    const ev = (n: number): QueuedEvent => ({ eid: `e${n}`, dtm: n, json: '{}', bytes: 2, attempts: 0 });
    let overwritten = a.addBatch([1, 2, 3, 4, 5].map(ev));
    a.lease(0); // writes a's batch
    overwritten += b.addBatch([6, 7, 8].map(ev)); // b sees a's 5 rows: 3 of them go
    b.lease(0);
    overwritten += a.addBatch([9].map(ev)); // a's count is stale; the write finds the file over capacity
    a.lease(0);
    expect(overwritten + a.takeEvictions() + b.takeEvictions()).toBe(4);
    const fromA = a.lease(2).map((e) => e.eid);
    const fromB = b.lease(10).map((e) => e.eid);
    expect(fromA).toEqual(['e5', 'e6']);
    expect(fromB).toEqual(['e7', 'e8', 'e9']);
    expect(a.size + b.size).toBe(0);
    a.close();
    b.close();
  });
});

describe('a custom storage', () => {
  it('an EventStorage instance is used as given and not closed by the emitter', async () => {
    let closed = false;
    const storage: EventStorage = Object.assign(new RingBufferStorage(10), { close: () => void (closed = true) });
    const emitter = new Emitter({ collectorUrl: 'http://127.0.0.1:9/tp2', storage, logger: quietLogger });
    new Tracker({ appId: 'x', emitter }).trackEvent('kept');
    expect(storage.size).toBe(1);
    await emitter.stop();
    expect(closed).toBe(false);
  });
});
