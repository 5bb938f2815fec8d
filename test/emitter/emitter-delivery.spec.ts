import {
  BillingEventOptionalInput,
  Emitter,
  SendResult,
  StaticTokenSource,
  TokenSource,
  Tracker,
  TRACKER_VERSION,
} from '../../lib/core';
import { decodeAccepted } from '../support/decode';
import { LocalCollector } from '../../lib/testing/local-collector';
import { waitFor } from '../support/wait-for';
import { quietLogger, useEmitterHarness } from '../support/emitter-harness';

describe('Emitter delivery to a loopback collector', () => {
  const harness = useEmitterHarness({ namespace: 'ns', userAgent: 'jest-agent' });
  const start = harness.start;
  let collector: LocalCollector;
  beforeEach(() => {
    collector = harness.collector;
  });

  it('delivers 1,000 custom and 100 billing events exactly once, schema-valid, billing first, FIFO in each lane', async () => {
    const { tracker } = start({ maxConcurrentRequests: 1, maxBatchSize: 100 });
    const billing: string[] = [];
    const custom: string[] = [];
    for (let i = 0; i < 1_100; i++) {
      if (i % 11 === 10) {
        billing.push(
          tracker.trackBillingEvent({
            category: 'c',
            eventType: 'ci_minutes',
            realm: 'SaaS',
            unitOfMeasure: 'min',
            quantity: i,
          }).eid,
        );
      } else {
        custom.push(tracker.trackEvent('clicked', { i, nested: { list: [1, 'two', { three: 3 }] } }).eid);
      }
    }
    await collector.waitForEvents(1_100);
    const events = decodeAccepted(collector);
    expect(events.map((e) => e.eid)).toEqual([...billing, ...custom]);
    expect(events.filter((e) => e.eventType === 'ue')).toHaveLength(1_000);
    expect(events.filter((e) => e.eventType === 'se')).toHaveLength(100);
    for (const request of collector.accepted()) {
      expect(request.method).toBe('POST');
      expect(request.url).toBe('/com.snowplowanalytics.snowplow/tp2');
      expect(request.headers['content-type']).toBe('application/json; charset=utf-8');
      expect(JSON.parse(request.body).data.length).toBeLessThanOrEqual(100);
    }
    expect(collector.accepted().length).toBe(11);
  });

  it('batches grow with the backlog: batchSize under a light load, up to maxBatchSize (and maxBatchBytes) when more wait', async () => {
    await collector.close();
    const { tracker, emitter: e } = start({ batchSize: 10, maxBatchSize: 300, maxConcurrentRequests: 1, lingerMs: 0 });
    const backlog = Array.from({ length: 1_000 }, (_, i) => tracker.trackEvent('backlog', { i }).eid);
    await waitFor(() => e.stats().consecutiveFailures >= 1, { what: 'a failed attempt while down' });
    await collector.reopen();
    await collector.waitForEvents(1_000);
    const sizes = () => collector.accepted().map((r) => JSON.parse(r.body).data.length as number);
    // The backlog leaves in batches of 300 while more than 10 wait; the rest in one of 100.
    expect(sizes()).toEqual([300, 300, 300, 100]);
    // Then a light load: one event at a time waits alone, so it leaves in a batch of its own.
    const single = tracker.trackEvent('light').eid;
    await collector.waitForEvents(1_001);
    expect(sizes().slice(4)).toEqual([1]);
    // Each event once (the batch refused while down went back to the end of the queue).
    const delivered = decodeAccepted(collector).map((ev) => ev.eid as string);
    expect(delivered).toHaveLength(1_001);
    expect([...delivered].sort()).toEqual([...backlog, single].sort());
  });

  it('a grown batch is still cut by maxBatchBytes', async () => {
    await collector.close();
    const { tracker, emitter: e } = start({ batchSize: 10, maxBatchSize: 1_000, maxBatchBytes: 20_000, lingerMs: 0 });
    for (let i = 0; i < 200; i++) tracker.trackEvent('padded', { i, pad: 'x'.repeat(300) });
    await waitFor(() => e.stats().consecutiveFailures >= 1, { what: 'a failed attempt while down' });
    await collector.reopen();
    await collector.waitForEvents(200);
    const sizes = collector.accepted().map((r) => Buffer.byteLength(r.body));
    expect(Math.max(...sizes)).toBeLessThanOrEqual(20_000);
    expect(collector.accepted().some((r) => JSON.parse(r.body).data.length > 10)).toBe(true);
  });

  it('keeps FIFO order inside every batch with concurrent requests, each event once', async () => {
    const { tracker, emitter: e } = start({ batchSize: 10, maxBatchSize: 10 });
    const expected = Array.from({ length: 500 }, (_, i) => tracker.trackEvent('e', { i }).eid);
    await collector.waitForEvents(500);
    await e.drain(30_000);
    const index = new Map(expected.map((eid, i) => [eid, i]));
    for (const request of collector.accepted()) {
      const positions = (JSON.parse(request.body).data as Array<{ eid: string }>).map((e) => index.get(e.eid)!);
      expect(positions).toEqual([...positions].sort((a, b) => a - b));
    }
    // Each once: as many events arrived as there are distinct ones, and they are the tracked ones.
    expect(collector.counts().stored).toEqual({ total: 500, distinct: 500 });
    expect(new Set(decodeAccepted(collector).map((ev) => ev.eid))).toEqual(new Set(expected));
  });

  it('writes the protocol fields of a custom event exactly', async () => {
    const { tracker } = start();
    const before = Date.now();
    const { eid } = tracker.trackEvent('button_clicked', { label: 'Buy', meta: { ids: [1, 2], ok: true } });
    await collector.waitForEvents(1);
    const [event] = decodeAccepted(collector);
    expect(event.raw).toEqual({
      e: 'ue',
      eid,
      dtm: expect.stringMatching(/^\d{13}$/),
      stm: expect.stringMatching(/^\d{13}$/),
      p: 'srv',
      tna: 'ns',
      aid: 'test-app',
      tv: TRACKER_VERSION,
      ua: 'jest-agent',
      ue_px: expect.stringMatching(/^[A-Za-z0-9_-]+$/),
    });
    expect(Number(event.raw.dtm)).toBeGreaterThanOrEqual(before);
    expect(Number(event.raw.stm)).toBeGreaterThanOrEqual(Number(event.raw.dtm));
    expect(event.schema).toBe('iglu:com.gitlab/custom_event/jsonschema/1-0-0');
    expect(event.data).toEqual({ name: 'button_clicked', props: { label: 'Buy', meta: { ids: [1, 2], ok: true } } });
    const wrapper = JSON.parse(Buffer.from(event.raw.ue_px, 'base64url').toString());
    expect(wrapper.schema).toBe('iglu:com.snowplowanalytics.snowplow/unstruct_event/jsonschema/1-0-0');
  });

  it('writes a billing event with every optional field in snake_case and leaves empty ones out', async () => {
    const { tracker } = start();
    const optional: BillingEventOptionalInput = {
      instanceId: 'inst',
      instanceVersion: '17.0',
      uniqueInstanceId: 'uniq',
      hostName: 'gitlab.example.com',
      projectId: 1,
      namespaceId: 2,
      organizationId: 3,
      rootNamespaceId: 4,
      subject: 'user:1',
      globalUserId: 'g1',
      seatIds: ['s1', 's2'],
      correlationId: 'corr',
      deploymentType: 'saas',
      assignments: ['duo_pro'],
      entityId: 'ent',
      metadata: { plan: 'ultimate', nested: { a: [1] } },
    };
    const full = tracker.trackBillingEventWithOptionalInput(
      { category: 'billing', eventType: 'ci_minutes', realm: 'Dedicated', unitOfMeasure: 'minute', quantity: 2.5 },
      optional,
    );
    const sparse = tracker.trackBillingEventWithOptionalInput(
      { category: 'billing', eventType: 'seats', realm: 'SM', unitOfMeasure: 'seat', quantity: 3 },
      // Empty and zero values are left out (labkit's omitempty).
      { instanceId: '', seatIds: [], metadata: {}, hostName: undefined, projectId: 0, namespaceId: 0 },
    );
    await collector.waitForEvents(2);
    const [first, second] = decodeAccepted(collector);

    expect(first.raw).toMatchObject({
      e: 'se',
      eid: full.eid,
      se_ca: 'billing',
      se_ac: 'ci_minutes',
      se_la: full.eventId,
      se_va: '2.5',
    });
    expect(first.contexts).toEqual([
      {
        schema: 'iglu:com.gitlab/billable_usage/jsonschema/1-0-2',
        data: {
          event_id: full.eventId,
          event_type: 'ci_minutes',
          realm: 'Dedicated',
          unit_of_measure: 'minute',
          quantity: 2.5,
          timestamp: new Date(Number(first.raw.dtm)).toISOString(),
          instance_id: 'inst',
          instance_version: '17.0',
          unique_instance_id: 'uniq',
          host_name: 'gitlab.example.com',
          project_id: 1,
          namespace_id: 2,
          organization_id: 3,
          root_namespace_id: 4,
          subject: 'user:1',
          global_user_id: 'g1',
          seat_ids: ['s1', 's2'],
          correlation_id: 'corr',
          deployment_type: 'saas',
          assignments: ['duo_pro'],
          entity_id: 'ent',
          metadata: { plan: 'ultimate', nested: { a: [1] } },
        },
      },
    ]);
    expect(full.eventId).not.toBe(full.eid);
    const cx = JSON.parse(Buffer.from(first.raw.cx, 'base64url').toString());
    expect(cx.schema).toBe('iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-1');
    expect(second.contexts[0].data).toEqual({
      event_id: sparse.eventId,
      event_type: 'seats',
      realm: 'SM',
      unit_of_measure: 'seat',
      quantity: 3,
      timestamp: new Date(Number(second.raw.dtm)).toISOString(),
    });
  });

  it('re-sends failed batches with unchanged eids once the collector recovers, reporting status codes', async () => {
    let failing = true;
    collector.behaviour = () => (failing ? { status: 500 } : { status: 200 });
    const passes: Array<{ successes: SendResult[]; failures: SendResult[] }> = [];
    const { tracker } = start({
      backoff: { baseMs: 5, capMs: 50 },
      callback: (successes, failures) => void passes.push({ successes, failures }),
    });
    const eids = Array.from({ length: 250 }, (_, i) => tracker.trackEvent('e', { i }).eid);
    await waitFor(() => collector.requests.length >= 6, { what: 'several failed requests' });
    failing = false;
    await collector.waitForEvents(250);
    expect(
      decodeAccepted(collector)
        .map((e) => e.eid)
        .sort(),
    ).toEqual([...eids].sort());
    const failures = passes.flatMap((p) => p.failures);
    expect(failures.length).toBeGreaterThanOrEqual(6);
    expect(failures.every((f) => f.statusCode === 500 && f.error === undefined)).toBe(true);
    const failedEids = new Set(failures.flatMap((f) => f.eids));
    expect([...failedEids].every((eid) => eids.includes(eid))).toBe(true);
    // The callback runs when its pass ends, just after the collector answered.
    const delivered = () => passes.flatMap((p) => p.successes).reduce((n, s) => n + s.eventCount, 0);
    await waitFor(() => delivered() >= 250, { what: '250 successes in the callback' });
    expect(delivered()).toBe(250);
  });

  it('reports a refused connection as statusCode -1 with an error, and delivers after the collector returns', async () => {
    await collector.close();
    const failures: SendResult[] = [];
    const { tracker, emitter: e } = start({
      backoff: { baseMs: 5, capMs: 20 },
      callback: (_s, f) => void failures.push(...f),
    });
    const eids = Array.from({ length: 20 }, () => tracker.trackEvent('offline').eid);
    await waitFor(() => failures.length >= 3, { what: 'refused attempts' });
    expect(failures[0].statusCode).toBe(-1);
    expect(failures[0].error?.message).toMatch(/ECONNREFUSED/);
    expect(e.stats().lastError).toMatch(/ECONNREFUSED/);
    await collector.reopen();
    await collector.waitForEvents(20);
    expect(decodeAccepted(collector).map((ev) => ev.eid)).toEqual(eids);
  });

  it('lingers for a fuller batch: a trickle within lingerMs goes out in one request once flushed', async () => {
    const { tracker, emitter: e } = start({ lingerMs: 60_000 });
    tracker.trackEvent('first');
    await new Promise((resolve) => setImmediate(resolve));
    for (let i = 0; i < 9; i++) tracker.trackEvent('more');
    await new Promise((resolve) => setImmediate(resolve));
    expect(collector.requests).toHaveLength(0);
    e.flush();
    await collector.waitForEvents(10);
    expect(collector.requests).toHaveLength(1);
  });

  it('a full batch ends the linger at once; lingerMs: 0 sends on the first event', async () => {
    const lingering = start({ lingerMs: 60_000, batchSize: 10 });
    for (let i = 0; i < 10; i++) lingering.tracker.trackEvent('full');
    await collector.waitForEvents(10);
    await lingering.emitter.stop();

    const eager = start({ lingerMs: 0 });
    eager.tracker.trackEvent('alone');
    await new Promise((resolve) => setImmediate(resolve));
    eager.tracker.trackEvent('later');
    await collector.waitForEvents(12);
    expect(collector.requests.map((r) => JSON.parse(r.body).data.length)).toEqual([10, 1, 1]);
  });

  it('treats 3xx as a failure: the redirect is not followed, nothing counts as sent, and the events stay queued', async () => {
    collector.behaviour = () => ({ status: 302, headers: { Location: 'http://127.0.0.1:9/elsewhere' } });
    const successes: SendResult[] = [];
    const failures: SendResult[] = [];
    const { tracker, emitter: e } = start({ callback: (s, f) => void (successes.push(...s), failures.push(...f)) });
    tracker.trackEvent('moved');
    await waitFor(() => failures.length >= 1, { what: 'a failure' });
    expect(failures[0]).toMatchObject({ statusCode: 302, eventCount: 1 });
    expect(successes).toEqual([]);
    expect(e.stats()).toMatchObject({ sent: 0, queued: 1 });
  });

  it('never has more requests in flight than maxConcurrentRequests, however many adds signal the loop', async () => {
    collector.behaviour = () => ({ hang: true });
    const { tracker, emitter: e } = start({
      batchSize: 5,
      maxBatchSize: 5,
      maxConcurrentRequests: 2,
      requestTimeoutMs: 60_000,
    });
    for (let i = 0; i < 200; i++) tracker.trackEvent('burst');
    await waitFor(() => collector.requests.length === 2, { what: 'two requests' });
    for (let i = 0; i < 200; i++) tracker.trackEvent('more');
    // Give the loop many chances to (wrongly) start more requests, then check the bound. The
    // emitter's own count matters: its HTTP agent would queue a third request out of sight.
    for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
    expect(e.stats().inFlight).toBe(2 * 5);
    expect(e.queueDepth).toBe(400 - 2 * 5);
    expect(collector.inFlight).toBe(2);
    expect(collector.maxInFlight).toBe(2);
    expect(collector.requests).toHaveLength(2);
  });

  it('stop() aborts a hanging request promptly; in memory, what remains is counted as dropped at shutdown', async () => {
    collector.behaviour = () => ({ hang: true });
    const failures: SendResult[] = [];
    const { tracker, emitter: e } = start({ requestTimeoutMs: 120_000, callback: (_s, f) => void failures.push(...f) });
    for (let i = 0; i < 30; i++) tracker.trackEvent('stuck');
    await waitFor(() => collector.requests.length >= 1, { what: 'the hanging request' });
    const started = Date.now();
    await e.stop();
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(failures.some((f) => f.statusCode === -1 && /abort/.test(f.error?.message ?? ''))).toBe(true);
    expect(e.queueDepth).toBe(0);
    expect(e.stats().dropped.shutdown).toBe(30);
    await e.stop();
    expect(e.stats().dropped.shutdown).toBe(30);
  });

  it('drain() resolves with how many were sent when the queue empties', async () => {
    const { tracker, emitter: e } = start();
    for (let i = 0; i < 345; i++) tracker.trackEvent('d');
    await expect(e.drain(30_000)).resolves.toEqual({ sent: 345, remaining: 0, drained: true });
    expect(collector.events()).toHaveLength(345);
    await expect(e.drain(10)).resolves.toEqual({ sent: 0, remaining: 0, drained: true });
  });

  it('drain() stops at its deadline with the count still queued', async () => {
    collector.behaviour = () => ({ hang: true });
    const { tracker, emitter: e } = start({ requestTimeoutMs: 120_000, batchSize: 10, maxConcurrentRequests: 1 });
    for (let i = 0; i < 35; i++) tracker.trackEvent('d');
    await expect(e.drain(200)).resolves.toEqual({ sent: 0, remaining: 35, drained: false });
  });

  it('drain() sends events added before start() by starting the loop', async () => {
    const emitter = new Emitter({ collectorUrl: collector.endpoint, logger: quietLogger });
    harness.emitter = emitter;
    const tracker = new Tracker({ appId: 'a', emitter });
    tracker.trackEvent('early');
    await expect(emitter.drain(10_000)).resolves.toMatchObject({ sent: 1, drained: true });
  });

  it.each([
    [
      'throws',
      () => {
        throw new Error('callback boom');
      },
    ],
    ['rejects', () => Promise.reject(new Error('callback boom'))],
  ])('a callback that %s is logged and does not break the loop', async (_how, fail) => {
    let calls = 0;
    const errors: string[] = [];
    const { tracker } = start({
      callback: () => (++calls === 1 ? fail() : undefined),
      logger: { warn: () => undefined, error: (m) => void errors.push(m) },
    });
    tracker.trackEvent('one');
    await collector.waitForEvents(1);
    await waitFor(() => errors.length === 1, { what: 'the callback error log' });
    tracker.trackEvent('two');
    await collector.waitForEvents(2);
    await waitFor(() => calls === 2, { what: 'the second callback' });
    expect(errors).toEqual(['callback threw: callback boom']);
  });

  it('awaits the token source before each request and uses the origin as audience', async () => {
    const audiences: string[] = [];
    const tokenSource: TokenSource = {
      async enhanceHeader(headers, audience) {
        audiences.push(audience);
        headers.Authorization = 'Bearer t0k3n';
      },
    };
    const { tracker } = start({ tokenSource });
    tracker.trackEvent('authed');
    await collector.waitForEvents(1);
    expect(collector.requests[0].headers.authorization).toBe('Bearer t0k3n');
    expect(audiences).toEqual([collector.url]);
  });

  it('fails the batch with -1 when the token source throws, keeps the events, and never reports the secret', async () => {
    let broken = true;
    const tokenSource: TokenSource = {
      async enhanceHeader(headers) {
        if (broken) throw new Error('client secret s3cr3t rejected');
        headers.Authorization = 'Bearer ok';
      },
    };
    const failures: SendResult[] = [];
    const logs: string[] = [];
    const { tracker } = start({
      tokenSource,
      backoff: { baseMs: 5, capMs: 20 },
      callback: (_s, f) => void failures.push(...f),
      logger: { warn: (m) => void logs.push(m), error: (m) => void logs.push(m) },
    });
    const { eid } = tracker.trackEvent('needs-token');
    await waitFor(() => failures.length >= 2, { what: 'token failures' });
    expect(collector.requests).toHaveLength(0);
    expect(failures[0]).toMatchObject({ statusCode: -1, eventCount: 1, eids: [eid] });
    broken = false;
    await collector.waitForEvents(1);
    expect(collector.events()[0].eid).toBe(eid);
    expect(JSON.stringify(failures.map((f) => f.error?.message)) + logs.join('\n')).not.toContain('s3cr3t');
  });

  it('StaticTokenSource sets a bearer token', async () => {
    const { tracker } = start({ tokenSource: new StaticTokenSource('abc') });
    tracker.trackEvent('x');
    await collector.waitForEvents(1);
    expect(collector.requests[0].headers.authorization).toBe('Bearer abc');
  });
});
