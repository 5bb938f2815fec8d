import { Registry } from 'prom-client';
import {
  EmitterMetrics,
  EmitterService,
  SendResult,
  SnowplowModule,
  TokenSource,
  Tracker,
  TrackerService,
} from '../../lib';
import { decodeAccepted } from '../support/decode';
import { LocalCollector, startLocalCollector } from '../../lib/testing/local-collector';
import { CollectorReply } from '../../lib/testing/tracker-traffic';
import { createApp } from '../support/nest';
import { waitFor } from '../support/wait-for';
import { useEmitterHarness } from '../support/emitter-harness';

const OUTAGE_MS = 3_000;

describe('delivery under faults', () => {
  const harness = useEmitterHarness({ appId: 'faults' });
  const start = harness.start;
  let collector: LocalCollector;
  beforeEach(() => {
    collector = harness.collector;
  });

  /** Misbehaves with `fault` until OUTAGE_MS after the first request, then answers 200. */
  function outage(fault: CollectorReply) {
    let firstAt: number | undefined;
    collector.behaviour = (request) => {
      firstAt ??= request.receivedAt;
      return request.receivedAt - firstAt < OUTAGE_MS ? fault : { status: 200 };
    };
  }

  function trackMany(tracker: Tracker, count: number): string[] {
    return Array.from({ length: count }, (_, i) => tracker.trackEvent('fault_test', { i }).eid);
  }

  const repeated = <T>(eids: T[]): T[] => {
    const seen = new Set<T>();
    return eids.filter((eid) => seen.has(eid) || (seen.add(eid), false));
  };

  /**
   * Every tracked eid answered 2xx, each exactly once (total = distinct = tracked), except the eids
   * `mayRepeat` returns once everything was delivered: a batch answered 2xx after the client gave up
   * on it (its timeout fired first) is sent again, which no client can avoid. Anything a real
   * collector may have stored twice comes only from those and from requests it read in full and
   * never answered (hung, or reset after the body), which the emitter had to retry.
   */
  async function expectAllDeliveredOnce(eids: string[], mayRepeat: () => ReadonlySet<string> = () => new Set()) {
    await collector.waitForEvents(eids.length, 60_000);
    await harness.emitter?.drain(30_000);
    const timedOut = mayRepeat();
    const delivered = decodeAccepted(collector).map((e) => e.eid);
    expect(new Set(delivered).size).toBe(eids.length);
    expect([...new Set(delivered)].sort()).toEqual([...eids].sort());
    expect(repeated(delivered).filter((eid) => !timedOut.has(eid!))).toEqual([]);
    if (timedOut.size === 0) expect(delivered).toHaveLength(eids.length);
    const ambiguous = collector.ambiguousEids();
    const twice = repeated(collector.stored().map((e) => e.eid));
    expect(twice.filter((eid) => !ambiguous.has(eid!) && !timedOut.has(eid!))).toEqual([]);
  }

  it('10,000 events, 500 for 3 s then 200: 10,000 distinct eids delivered, 0 lost', async () => {
    outage({ status: 500 });
    const { tracker, emitter: e } = start();
    const eids = trackMany(tracker, 10_000);
    await expectAllDeliveredOnce(eids);
    expect(collector.requests.some((r) => r.status === 500)).toBe(true);
    expect(e.stats().dropped).toEqual({
      overflow: 0,
      rejected: 0,
      too_large: 0,
      expired: 0,
      shutdown: 0,
      not_stored: 0,
    });
  });

  it('10,000 events, connection refused for 3 s (server closed, reopened on the same port): 0 lost', async () => {
    const failures: SendResult[] = [];
    await collector.close();
    const { tracker } = start({ callback: (_s, f) => void failures.push(...f) });
    const eids = trackMany(tracker, 10_000);
    await waitFor(() => failures.length >= 2, { what: 'refused attempts' });
    const closedAt = Date.now();
    await waitFor(() => Date.now() - closedAt >= OUTAGE_MS || undefined, {
      timeoutMs: OUTAGE_MS + 5_000,
      intervalMs: 100,
      what: 'the outage to last',
    });
    await collector.reopen();
    await expectAllDeliveredOnce(eids);
    expect(failures.every((f) => f.statusCode === -1 && /ECONNREFUSED/.test(f.error!.message))).toBe(true);
  });

  it('10,000 events, sockets reset in the middle of the request body for 3 s: 0 lost, none stored twice', async () => {
    let firstAt: number | undefined;
    collector.resetMidBody = (startedAt) => startedAt - (firstAt ??= startedAt) < OUTAGE_MS;
    const failures: SendResult[] = [];
    const { tracker } = start({ callback: (_s, f) => void failures.push(...f) });
    // ~1 KB events: a batch of 100 is ~100 KB, more than one read of the socket, so the
    // collector sees the body begin and resets the connection before its end.
    const eids = Array.from(
      { length: 10_000 },
      (_, i) => tracker.trackEvent('fault_test', { i, pad: 'r'.repeat(900) }).eid,
    );
    await expectAllDeliveredOnce(eids);
    const resets = collector.requests.filter((r) => r.fate === 'reset-mid-body');
    expect(resets.length).toBeGreaterThan(0);
    expect(resets.every((r) => !r.complete && r.body.length > 0)).toBe(true);
    expect(failures.length).toBeGreaterThan(0);
    expect(failures.every((f) => f.statusCode === -1 && /ECONNRESET|socket hang up|EPIPE/.test(f.error!.message))).toBe(
      true,
    );
    // Nothing was read in full and left unanswered: nothing may have been stored twice.
    expect(collector.counts().stored).toEqual({ total: 10_000, distinct: 10_000 });
  });

  it('sockets reset after the whole body was read: every event answered 2xx once; only those batches may be stored twice', async () => {
    collector.behaviour = (_r, index) => (index < 2 ? { reset: true } : { status: 200 });
    const { tracker } = start({ backoff: { baseMs: 20, capMs: 200 } });
    const eids = trackMany(tracker, 1_000);
    await expectAllDeliveredOnce(eids);
    expect(collector.requests.some((r) => r.fate === 'reset' && r.complete)).toBe(true);
    // A real collector may have kept what it read before the reset: the retries are duplicates there.
    const { stored } = collector.counts();
    expect(stored.distinct).toBe(1_000);
    expect(stored.total).toBeGreaterThan(1_000);
  });

  it('10,000 events, requests hang past the 300 ms timeout for 3 s: 0 lost', async () => {
    outage({ hang: true });
    const failures: SendResult[] = [];
    const { tracker } = start({ requestTimeoutMs: 300, callback: (_s, f) => void failures.push(...f) });
    const eids = trackMany(tracker, 10_000);
    const timedOut = () => failures.filter((f) => f.statusCode === -1 && /timeout/.test(f.error!.message));
    // On a loaded machine an answer can come after its request timed out: those events may repeat.
    await expectAllDeliveredOnce(eids, () => new Set(timedOut().flatMap((f) => f.eids)));
    expect(timedOut().length).toBeGreaterThan(0);
  });

  it.each([429, 503])(
    '%s with Retry-After: 2: no request for 2 s, even when flushed; all delivered',
    async (status) => {
      collector.behaviour = (_r, index) =>
        index === 0 ? { status, headers: { 'Retry-After': '2' } } : { status: 200 };
      const failures: SendResult[] = [];
      const { tracker, emitter: e } = start({
        maxConcurrentRequests: 1,
        backoff: { baseMs: 1, capMs: 1 },
        callback: (_s, f) => void failures.push(...f),
      });
      const eids = trackMany(tracker, 300);
      // Flush once the emitter has the answer, so the flush meets the Retry-After sleep itself.
      await waitFor(() => failures.length >= 1, { what: `the ${status} in the callback` });
      e.flush();
      await expectAllDeliveredOnce(eids);
      const [first, second] = collector.requests;
      expect(second.receivedAt - first.receivedAt).toBeGreaterThanOrEqual(2_000);
    },
  );

  it('Retry-After as an HTTP date is honoured', async () => {
    const retryAt = new Date(Date.now() + 2_000);
    collector.behaviour = (_r, index) =>
      index === 0 ? { status: 503, headers: { 'Retry-After': retryAt.toUTCString() } } : { status: 200 };
    const { tracker } = start({ backoff: { baseMs: 1, capMs: 1 } });
    const eids = trackMany(tracker, 10);
    await expectAllDeliveredOnce(eids);
    expect(collector.requests[1].receivedAt).toBeGreaterThanOrEqual(Math.floor(retryAt.getTime() / 1000) * 1000);
  });

  it('413 for batches over 10 events: all 1,000 delivered by splitting; an over-large single event dropped and counted', async () => {
    collector.behaviour = (request) => {
      const body = JSON.parse(request.body) as { data: unknown[] };
      return body.data.length > 10 || request.body.length > 60_000 ? { status: 413 } : { status: 200 };
    };
    const failures: SendResult[] = [];
    const registry = new Registry();
    const metrics = new EmitterMetrics({ registry });
    const { tracker, emitter: e } = start({ observer: metrics, callback: (_s, f) => void failures.push(...f) });
    metrics.watch(e);
    const eids = trackMany(tracker, 500);
    const big = tracker.trackEvent('too_big', { blob: 'x'.repeat(100_000) }).eid;
    eids.push(...trackMany(tracker, 500));
    await expectAllDeliveredOnce(eids);
    // The callback runs when the pass ends, after the drop is counted.
    await waitFor(() => failures.some((f) => f.statusCode === 413 && f.eventCount === 1 && f.eids[0] === big), {
      what: 'the 413 for the single big event in the callback',
    });
    expect(e.stats().dropped.too_large).toBe(1);
    expect(collector.accepted().every((r) => JSON.parse(r.body).data.length <= 10)).toBe(true);
    expect(await registry.metrics()).toContain(
      'snowplow_events_dropped_total{tracker="default",reason="too_large",kind="custom"} 1',
    );
  });

  it('maxBatchBytes cuts batches by bytes: no request body, envelope included, is over it; all delivered', async () => {
    const { tracker } = start({ maxBatchBytes: 6_000, batchSize: 100 });
    const eids = Array.from(
      { length: 300 },
      (_, i) => tracker.trackEvent('sized', { i, pad: 'p'.repeat(i % 7 === 0 ? 1_500 : 200) }).eid,
    );
    await expectAllDeliveredOnce(eids);
    const sizes = collector.accepted().map((r) => Buffer.byteLength(r.body));
    expect(Math.max(...sizes)).toBeLessThanOrEqual(6_000);
    expect(sizes.length).toBeGreaterThan(300 / 100);
  });

  it('400 for every batch holding one bad event: halved until it stands alone, dead-lettered as rejected, the other 999 delivered', async () => {
    let bad = '';
    collector.behaviour = (request) => (request.body.includes(bad) ? { status: 400 } : { status: 200 });
    const registry = new Registry();
    const metrics = new EmitterMetrics({ registry });
    const failures: SendResult[] = [];
    const { tracker, emitter: e } = start({
      maxConcurrentRequests: 1,
      observer: metrics,
      callback: (_s, f) => void failures.push(...f),
    });
    const eids = trackMany(tracker, 1_000);
    bad = eids[42];
    await collector.waitForEvents(999);
    await e.drain(10_000);
    expect(decodeAccepted(collector).map((ev) => ev.eid)).toEqual(eids.filter((eid) => eid !== bad));
    expect(failures).toEqual([expect.objectContaining({ statusCode: 400, eventCount: 1, eids: [bad] })]);
    expect(e.stats().dropped.rejected).toBe(1);
    expect(await registry.metrics()).toContain(
      'snowplow_events_dropped_total{tracker="default",reason="rejected",kind="custom"} 1',
    );
  });

  it('retryStatusCodes makes a default non-retried status retried', async () => {
    collector.behaviour = (_r, index) => (index < 2 ? { status: 400 } : { status: 200 });
    const { tracker, emitter: e } = start({ retryStatusCodes: [400], backoff: { baseMs: 1, capMs: 5 } });
    const eids = trackMany(tracker, 50);
    await expectAllDeliveredOnce(eids);
    expect(e.stats().dropped.rejected).toBe(0);
  });

  it('dontRetryStatusCodes replaces the default list', async () => {
    collector.behaviour = (_r, index) => (index === 0 ? { status: 500 } : { status: 200 });
    const { tracker, emitter: e } = start({ dontRetryStatusCodes: [500] });
    trackMany(tracker, 5);
    await waitFor(() => e.stats().dropped.rejected === 5, { what: 'the rejected drop' });
    expect(collector.accepted()).toHaveLength(0);
  });

  it('401 with a token source gets one retry after the token source is asked again', async () => {
    let token = 'stale';
    let invalidated = 0;
    const tokenSource: TokenSource = {
      async enhanceHeader(headers) {
        headers.Authorization = `Bearer ${token}`;
      },
      invalidate() {
        invalidated++;
        token = 'fresh';
      },
    };
    collector.behaviour = (request) =>
      request.headers.authorization === 'Bearer fresh' ? { status: 200 } : { status: 401 };
    const { tracker } = start({ tokenSource });
    const eids = trackMany(tracker, 3);
    await expectAllDeliveredOnce(eids);
    expect(invalidated).toBe(1);
    expect(collector.requests.map((r) => r.status)).toEqual([401, 200]);
  });

  it('maxAttempts drops events as expired after that many failed attempts', async () => {
    collector.behaviour = () => ({ status: 500 });
    const { tracker, emitter: e } = start({ maxAttempts: 3, backoff: { baseMs: 1, capMs: 2 } });
    trackMany(tracker, 20);
    await waitFor(() => e.stats().dropped.expired === 20, { what: 'all 20 to expire' });
    expect(collector.requests).toHaveLength(3);
    expect(e.queueDepth).toBe(0);
  });

  it('maxEventAgeMs drops events that fail after being that old', async () => {
    collector.behaviour = () => ({ status: 503 });
    const { tracker, emitter: e } = start({ maxEventAgeMs: 200, backoff: { baseMs: 20, capMs: 50 } });
    trackMany(tracker, 5);
    await waitFor(() => e.stats().dropped.expired === 5, { what: 'the events to expire' });
    expect(collector.requests.length).toBeGreaterThan(1);
  });

  it('capacity 1,000, 5,000 events while down: exactly 4,000 overflow drops, the newest 1,000 delivered after recovery', async () => {
    await collector.close();
    const registry = new Registry();
    const metrics = new EmitterMetrics({ registry });
    const { tracker, emitter: e } = start({ capacity: 1_000, observer: metrics, backoff: { baseMs: 50, capMs: 200 } });
    const eids = trackMany(tracker, 5_000);
    expect(e.stats().dropped.overflow).toBe(4_000);
    await waitFor(() => e.stats().consecutiveFailures >= 2, { what: 'failed attempts while down' });
    await collector.reopen();
    await expectAllDeliveredOnce(eids.slice(4_000));
    expect(e.stats().dropped.overflow).toBe(4_000);
    expect(await registry.metrics()).toContain(
      'snowplow_events_dropped_total{tracker="default",reason="overflow",kind="custom"} 4000',
    );
  });

  it('while the collector is down, the loop sleeps through its backoff: < 30% of one core between two attempts (a spinning loop takes ~100%)', async () => {
    await collector.close();
    // Full jitter drawn at its ceiling: after the fourth failure in a row the loop sleeps 2 s.
    const random = jest.spyOn(Math, 'random').mockReturnValue(0.9999);
    try {
      const failures: number[] = [];
      const { tracker, emitter: e } = start({
        capacity: 10_000,
        maxConcurrentRequests: 1,
        backoff: { baseMs: 250, factor: 2, capMs: 2_000 },
        callback: (_s, f) => void failures.push(f.length),
      });
      trackMany(tracker, 10_000);
      await waitFor(() => failures.length >= 4, { timeoutMs: 30_000, what: 'four failed attempts' });
      // The window is the sleep itself: from one failed attempt to the next.
      const cpuBefore = process.cpuUsage();
      const wallBefore = process.hrtime.bigint();
      await waitFor(() => failures.length >= 5, { timeoutMs: 30_000, intervalMs: 250, what: 'the fifth attempt' });
      const cpu = process.cpuUsage(cpuBefore);
      const wallUs = Number(process.hrtime.bigint() - wallBefore) / 1_000;
      expect(wallUs).toBeGreaterThan(1_500_000);
      // The share is the whole test process's (GC of earlier tests included), hence the margin.
      expect((cpu.user + cpu.system) / wallUs).toBeLessThan(0.3);
      expect(e.queueDepth).toBe(10_000);
    } finally {
      random.mockRestore();
    }
  });
});

describe('app.close() during an outage', () => {
  it('returns at shutdownTimeoutMs, not when the outage ends, and reports what remains', async () => {
    const collector = await startLocalCollector();
    await collector.close();
    const messages: string[] = [];
    const record = (message: string) => void messages.push(message);
    const shutdownTimeoutMs = 1_000;
    const app = await createApp(
      {
        imports: [
          SnowplowModule.forRoot({
            collectorUrl: collector.endpoint,
            appId: 'outage',
            shutdownTimeoutMs,
            metrics: false,
          }),
        ],
      },
      { logger: { log: record, warn: record, error: record } },
    );
    for (let i = 0; i < 250; i++) app.get(TrackerService).trackEvent('lost_in_outage');
    const started = Date.now();
    await app.close();
    // The outage never ends: only the deadline can end close(). The margin is for a loaded machine.
    expect(Date.now() - started).toBeGreaterThanOrEqual(shutdownTimeoutMs - 5);
    expect(Date.now() - started).toBeLessThan(shutdownTimeoutMs + 5_000);
    expect(messages.join('\n')).toMatch(/0 events sent, 250 still queued/);
    expect(messages.join('\n')).toMatch(/250 events not delivered at shutdown \(0 billing\) were dropped/);
    // Counted, not only logged: stats (and the metrics, when on) show them as dropped at shutdown.
    expect(app.get(EmitterService).stats().dropped.shutdown).toBe(250);
  });
});
