// Retries as the collector sees them: how often, how soon, and with which token.
import { Registry } from 'prom-client';
import { SendResult, TokenSource } from '../../lib/core';
import { EmitterMetrics } from '../../lib/metrics';
import { useEmitterHarness } from '../support/emitter-harness';
import { waitFor } from '../support/wait-for';

describe('retries', () => {
  const harness = useEmitterHarness({ appId: 'retries' });

  /** Full jitter always draws its ceiling, so every backoff delay is known in advance. */
  function maxJitter() {
    const random = jest.spyOn(Math, 'random').mockReturnValue(0.9999);
    return () => random.mockRestore();
  }

  describe.each([401, 403])('a collector that always answers %s', (status) => {
    it('gets one token refresh per batch attempt, then backoff: never a refresh loop, nothing dropped', async () => {
      let invalidated = 0;
      let issued = 0;
      const tokenSource: TokenSource = {
        async enhanceHeader(headers) {
          headers.Authorization = `Bearer t${issued++}`;
        },
        invalidate() {
          invalidated++;
        },
      };
      harness.collector.behaviour = () => ({ status });
      const failures: SendResult[] = [];
      const registry = new Registry();
      const metrics = new EmitterMetrics({ registry });
      const { tracker, emitter } = harness.start({
        tokenSource,
        observer: metrics,
        maxConcurrentRequests: 1,
        backoff: { baseMs: 20, factor: 1, capMs: 20 },
        callback: (_s, f) => void failures.push(...f),
      });
      metrics.watch(emitter);
      const { eid } = tracker.trackBillingEvent({
        category: 'c',
        eventType: 'seats',
        realm: 'SM',
        unitOfMeasure: 'seat',
        quantity: 1,
      });
      await waitFor(() => failures.length >= 3, { timeoutMs: 10_000, what: 'three failed attempts' });
      await emitter.stop();

      const attempts = failures.length;
      // Each attempt: the request, one refresh, the request again; then the loop backs off.
      expect(failures.every((f) => f.statusCode === status && f.eids[0] === eid)).toBe(true);
      expect(invalidated).toBe(attempts);
      expect(harness.collector.requests).toHaveLength(2 * attempts);
      expect(harness.collector.requests.every((r) => r.status === status)).toBe(true);
      expect(harness.collector.requests.map((r) => r.headers.authorization)).toEqual(
        Array.from({ length: 2 * attempts }, (_, i) => `Bearer t${i}`),
      );
      expect(emitter.stats()).toMatchObject({ sent: 0, authFailures: attempts });
      expect(emitter.stats().dropped).toEqual({
        overflow: 0,
        rejected: 0,
        too_large: 0,
        expired: 0,
        shutdown: 1,
        not_stored: 0,
      });
      expect(await registry.metrics()).toContain(`snowplow_auth_failures_total{tracker="default"} ${attempts}`);
    });
  });

  it('without a token source a 401 is not retried at once: one request per attempt', async () => {
    harness.collector.behaviour = () => ({ status: 401 });
    const failures: SendResult[] = [];
    const { tracker, emitter } = harness.start({
      backoff: { baseMs: 20, factor: 1, capMs: 20 },
      callback: (_s, f) => void failures.push(...f),
    });
    tracker.trackEvent('no_token');
    await waitFor(() => failures.length >= 3, { timeoutMs: 10_000, what: 'three failed attempts' });
    await emitter.stop();
    expect(harness.collector.requests).toHaveLength(failures.length);
    expect(emitter.stats().authFailures).toBe(failures.length);
  });

  it('flush() cuts a long backoff short', async () => {
    const restore = maxJitter();
    try {
      harness.collector.behaviour = (_r, index) => (index === 0 ? { status: 500 } : { status: 200 });
      const failures: SendResult[] = [];
      const { tracker, emitter } = harness.start({
        backoff: { baseMs: 120_000, factor: 1, capMs: 120_000 },
        callback: (_s, f) => void failures.push(...f),
      });
      const { eid } = tracker.trackEvent('flushed');
      await waitFor(() => failures.length === 1, { what: 'the failed first attempt' });
      // The loop now sleeps ~120 s; only the flush can bring the retry within the deadline.
      emitter.flush();
      const [event] = await harness.collector.waitForEvents(1, 30_000);
      expect(event.eid).toBe(eid);
      expect(harness.collector.requests).toHaveLength(2);
    } finally {
      restore();
    }
  });

  it('backoff grows with consecutive failures and starts again from the base after a success', async () => {
    const restore = maxJitter();
    try {
      // Delays with maxed jitter: 10 ms after one failure, 10 s after two in a row.
      const statuses = [500, 200, 500, 200];
      harness.collector.behaviour = (_r, index) => ({ status: statuses[index] ?? 200 });
      const { tracker, emitter } = harness.start({ backoff: { baseMs: 10, factor: 1_000, capMs: 600_000 } });
      tracker.trackEvent('first');
      // Idle again: the pass that delivered it is over (a pass with a success and a failure in it
      // counts as failed, so 'second' must not join that pass).
      await expect(emitter.drain(30_000)).resolves.toMatchObject({ sent: 1, drained: true });
      tracker.trackEvent('second');
      // Without the reset, the failure of the third request would count as the second in a row
      // and the retry would wait 10 s.
      await harness.collector.waitForEvents(2, 8_000);
      const [, , third, fourth] = harness.collector.requests;
      expect(fourth.receivedAt - third.receivedAt).toBeLessThan(8_000);
    } finally {
      restore();
    }
  });

  it('a second failure in a row waits base * factor: the backoff does grow', async () => {
    const restore = maxJitter();
    try {
      harness.collector.behaviour = (_r, index) => (index < 2 ? { status: 500 } : { status: 200 });
      const { tracker } = harness.start({ backoff: { baseMs: 10, factor: 150, capMs: 600_000 } });
      tracker.trackEvent('grows');
      await harness.collector.waitForEvents(1, 30_000);
      const [first, second, third] = harness.collector.requests;
      // Ceilings 10 ms, then 1.5 s: the jitter draws just below them.
      expect(third.receivedAt - second.receivedAt).toBeGreaterThanOrEqual(1_400);
      expect(second.receivedAt - first.receivedAt).toBeLessThan(1_400);
    } finally {
      restore();
    }
  });

  it('a Retry-After longer than maxRetryAfterMs waits maxRetryAfterMs, not the hour asked for', async () => {
    harness.collector.behaviour = (_r, index) =>
      index === 0 ? { status: 503, headers: { 'Retry-After': '3600' } } : { status: 200 };
    const { tracker } = harness.start({ maxRetryAfterMs: 300, backoff: { baseMs: 1, capMs: 1 } });
    tracker.trackEvent('capped');
    await harness.collector.waitForEvents(1, 30_000);
    const [first, second] = harness.collector.requests;
    expect(second.receivedAt - first.receivedAt).toBeGreaterThanOrEqual(300);
  });

  it('Retry-After is honoured on 429 and 503 only: on a 500 the retry follows the backoff', async () => {
    harness.collector.behaviour = (_r, index) =>
      index === 0 ? { status: 500, headers: { 'Retry-After': '3600' } } : { status: 200 };
    const { tracker } = harness.start({ backoff: { baseMs: 1, capMs: 1 } });
    const { eid } = tracker.trackEvent('not_throttled');
    const [event] = await harness.collector.waitForEvents(1, 20_000);
    expect(event.eid).toBe(eid);
  });

  it("a redirect's Location is logged with the collector URL's password masked", async () => {
    const lines: string[] = [];
    const url = new URL(harness.collector.endpoint);
    url.username = 'svc';
    url.password = 's3cr3t-pw';
    harness.collector.behaviour = () => ({
      status: 307,
      headers: { Location: `http://svc:s3cr3t-pw@127.0.0.1:9/moved` },
    });
    const failures: SendResult[] = [];
    const { tracker } = harness.start({
      collectorUrl: url.href,
      callback: (_s, f) => void failures.push(...f),
      logger: { warn: (m) => void lines.push(m), error: (m) => void lines.push(m) },
    });
    tracker.trackEvent('moved');
    await waitFor(() => failures.length >= 1 && lines.some((l) => /redirect/.test(l)), { what: 'the redirect log' });
    const redirect = lines.find((l) => /redirect/.test(l))!;
    expect(redirect).toContain('HTTP 307 redirecting to http://***:***@127.0.0.1:9/moved');
    expect(lines.join('\n')).not.toContain('s3cr3t-pw');
    expect(failures[0]).toMatchObject({ statusCode: 307, eventCount: 1 });
  });
});
