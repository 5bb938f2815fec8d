import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { DeadLetterRecord, Emitter, SendResult, TokenSource, Tracker } from '../../lib/core';
import { EmitterMetrics } from '../../lib/metrics';
import { decodeAccepted } from '../support/decode';
import { useEmitterHarness } from '../support/emitter-harness';
import { waitFor } from '../support/wait-for';

const BILL = { category: 'ci', eventType: 'ci_minutes', realm: 'SaaS', unitOfMeasure: 'minute', quantity: 2 } as const;

/** A logger that keeps every line, by level. */
function recordingLogger() {
  const lines: Array<{ level: string; message: string }> = [];
  const at = (level: string) => (message: string) => void lines.push({ level, message });
  return { lines, logger: { log: at('log'), warn: at('warn'), error: at('error') } };
}

function readDeadLetters(path: string): DeadLetterRecord[] {
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as DeadLetterRecord);
}

/** Each eid arrived exactly once: the total count equals the distinct count. */
function expectEachOnce(arrived: string[], expected: string[]) {
  expect(arrived).toHaveLength(expected.length);
  expect(new Set(arrived).size).toBe(expected.length);
  expect(new Set(arrived)).toEqual(new Set(expected));
}

describe('billing-grade delivery under faults', () => {
  const harness = useEmitterHarness({ appId: 'billing-grade' });
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'snowplow-billing-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const eidsOf = () => decodeAccepted(harness.collector).map((e) => e.eid as string);

  it('a flood of 50,000 custom events into capacity 1,000 during an outage: the 100 billing events tracked first are all delivered', async () => {
    const { collector } = harness;
    await collector.close();
    const registry = new Registry();
    const metrics = new EmitterMetrics({ registry });
    // One request at a time, so the first request after the outage is the first one leased.
    const { tracker, emitter } = harness.start({
      capacity: 1_000,
      maxConcurrentRequests: 1,
      observer: metrics,
      backoff: { baseMs: 20, capMs: 100 },
    });
    metrics.watch(emitter);
    const billing = Array.from({ length: 100 }, () => tracker.trackBillingEvent(BILL).eid);
    const custom = Array.from({ length: 50_000 }, (_, i) => tracker.trackEvent('flood', { i }).eid);
    expect(emitter.stats().billing).toMatchObject({ queued: 100, dropped: { overflow: 0 } });
    expect(emitter.stats().custom).toMatchObject({ queued: 1_000, dropped: { overflow: 49_000 } });
    await waitFor(() => emitter.stats().consecutiveFailures >= 1, { what: 'a failed attempt while down' });
    await collector.reopen();
    await collector.waitForEvents(1_100, 60_000);
    expect((await emitter.drain(30_000)).drained).toBe(true);
    const arrived = eidsOf();
    expectEachOnce(arrived, [...billing, ...custom.slice(49_000)]);
    // Billing events are leased first: the first request after the outage carries them.
    expect(
      decodeAccepted(collector)
        .slice(0, 100)
        .map((e) => e.eid),
    ).toEqual(billing);
    const text = await registry.metrics();
    expect(text).toContain('snowplow_events_dropped_total{tracker="default",reason="overflow",kind="custom"} 49000');
    expect(text).toContain('snowplow_events_dropped_total{tracker="default",reason="overflow",kind="billing"} 0');
  });

  it('a full billing lane dead-letters the newest billing event, logs it at error level and counts it; nothing is overwritten', async () => {
    const { collector } = harness;
    await collector.close();
    const { lines, logger } = recordingLogger();
    const deadLetter = join(dir, 'dead.jsonl');
    const { tracker, emitter } = harness.start({ billing: { capacity: 5 }, deadLetter: { path: deadLetter }, logger });
    const eids = Array.from({ length: 8 }, () => tracker.trackBillingEvent(BILL).eid);
    await emitter.stop();
    const records = readDeadLetters(deadLetter);
    const overflow = records.filter((r) => r.reason === 'overflow');
    expect(overflow.map((r) => r.eid)).toEqual(eids.slice(5));
    expect(overflow.every((r) => r.kind === 'billing' && r.payload.e === 'se' && r.payload.eid === r.eid)).toBe(true);
    expect(emitter.stats().billing.dropped.overflow).toBe(3);
    expect(lines.some((l) => l.level === 'error' && /billing queue is full/.test(l.message))).toBe(true);
    // The five that waited were not delivered before stop: in memory they are dead-lettered as shutdown.
    expect(records.filter((r) => r.reason === 'shutdown').map((r) => r.eid)).toEqual(eids.slice(0, 5));
  });

  it('without a dead-letter file a dropped billing event is logged at error level with its whole payload', async () => {
    const { collector } = harness;
    await collector.close();
    const { lines, logger } = recordingLogger();
    const { tracker, emitter } = harness.start({ billing: { capacity: 1 }, logger });
    tracker.trackBillingEvent(BILL);
    const { eid } = tracker.trackBillingEvent(BILL);
    const line = lines.find((l) => l.level === 'error' && l.message.includes(eid));
    expect(line?.message).toMatch(/dropped \(overflow: .*its payload: \{"e":"se","eid":"/);
    expect(JSON.parse(line!.message.slice(line!.message.indexOf('its payload: ') + 13))).toMatchObject({
      eid,
      e: 'se',
    });
    await emitter.stop();
  });

  it('a redirecting collector: nothing counts as sent, the Location is named once, and every event arrives once the redirect stops', async () => {
    const { collector } = harness;
    let redirecting = true;
    collector.behaviour = () =>
      redirecting ? { status: 302, headers: { Location: 'https://moved.example/tp2' } } : { status: 200 };
    const { lines, logger } = recordingLogger();
    const successes: SendResult[] = [];
    const failures: SendResult[] = [];
    const { tracker, emitter } = harness.start({
      logger,
      backoff: { baseMs: 5, capMs: 20 },
      callback: (s, f) => void (successes.push(...s), failures.push(...f)),
    });
    const eids = Array.from({ length: 500 }, (_, i) => tracker.trackEvent('moved', { i }).eid);
    await waitFor(() => collector.requests.length >= 5, { what: 'several redirected attempts' });
    expect(emitter.stats()).toMatchObject({ sent: 0 });
    expect(successes).toEqual([]);
    expect(failures.every((f) => f.statusCode === 302)).toBe(true);
    const hints = lines.filter((l) => /redirecting to https:\/\/moved\.example\/tp2/.test(l.message));
    expect(hints).toHaveLength(1);
    expect(hints[0]).toMatchObject({ level: 'error' });
    expect(hints[0].message).toMatch(/set collectorUrl to the final tp2 endpoint/);
    redirecting = false;
    await collector.waitForEvents(500);
    expectEachOnce(eidsOf(), eids);
    expect(emitter.stats().dropped).toMatchObject({ rejected: 0, expired: 0 });
  });

  it("a poison event in a batch of 300: the collector's 400s are bisected, 299 delivered, 1 line in the dead-letter file", async () => {
    const { collector } = harness;
    const deadLetter = join(dir, 'dead.jsonl');
    const { lines, logger } = recordingLogger();
    let poison = '';
    collector.behaviour = (request) => (request.body.includes(poison) ? { status: 400 } : { status: 200 });
    const failures: SendResult[] = [];
    const { tracker, emitter } = harness.start({
      batchSize: 300,
      lingerMs: 1_000,
      deadLetter: { path: deadLetter },
      logger,
      callback: (_s, f) => void failures.push(...f),
    });
    const eids = Array.from({ length: 300 }, (_, i) => tracker.trackEvent('batch', { i }).eid);
    poison = eids[137];
    expect((await emitter.drain(20_000)).drained).toBe(true);
    expectEachOnce(
      eidsOf(),
      eids.filter((eid) => eid !== poison),
    );
    const records = await waitFor(
      () => (readDeadLetters(deadLetter).length > 0 ? readDeadLetters(deadLetter) : undefined),
      {
        what: 'the dead-letter line',
      },
    );
    // Every request that carried it counts: the first batch and each half down to its own.
    const carried = harness.collector.requests.filter((r) => r.body.includes(poison)).length;
    expect(carried).toBeGreaterThan(5);
    expect(records).toEqual([
      expect.objectContaining({ eid: poison, kind: 'custom', reason: 'rejected', statusCode: 400, attempts: carried }),
    ]);
    expect(records[0].payload).toMatchObject({ e: 'ue', eid: poison, aid: 'billing-grade' });
    expect(records[0].payload.stm).toBeUndefined();
    expect(emitter.stats().dropped.rejected).toBe(1);
    // The callback saw the poison event once, as a failure of its own.
    expect(failures).toEqual([expect.objectContaining({ statusCode: 400, eventCount: 1, eids: [poison] })]);
    // One warning for the whole split chain.
    expect(lines.filter((l) => /halved/.test(l.message))).toHaveLength(1);
  });

  it('a 401 outage of 2 s, then recovery: 0 dropped, every event delivered, auth failures counted and logged once', async () => {
    const { collector } = harness;
    let firstAt: number | undefined;
    collector.behaviour = (request) => {
      firstAt ??= request.receivedAt;
      return request.receivedAt - firstAt < 2_000 ? { status: 401 } : { status: 200 };
    };
    let invalidated = 0;
    const tokenSource: TokenSource = {
      async enhanceHeader(headers) {
        headers.Authorization = 'Bearer rotated-away';
      },
      invalidate: () => void invalidated++,
    };
    const registry = new Registry();
    const metrics = new EmitterMetrics({ registry });
    const { lines, logger } = recordingLogger();
    const { tracker, emitter } = harness.start({
      tokenSource,
      observer: metrics,
      logger,
      backoff: { baseMs: 100, capMs: 1_000 },
    });
    metrics.watch(emitter);
    const eids = [
      ...Array.from({ length: 50 }, () => tracker.trackBillingEvent(BILL).eid),
      ...Array.from({ length: 200 }, (_, i) => tracker.trackEvent('auth', { i }).eid),
    ];
    await collector.waitForEvents(250, 40_000);
    expect((await emitter.drain(10_000)).drained).toBe(true);
    expectEachOnce(eidsOf(), eids);
    const stats = emitter.stats();
    expect(stats.dropped).toEqual({ overflow: 0, rejected: 0, too_large: 0, expired: 0, shutdown: 0, not_stored: 0 });
    expect(stats.authFailures).toBeGreaterThan(1);
    expect(invalidated).toBeGreaterThan(1);
    expect(await registry.metrics()).toMatch(
      new RegExp(`snowplow_auth_failures_total\\{tracker="default"\\} ${stats.authFailures}\\b`),
    );
    const authLines = lines.filter((l) => /authentication with the collector is failing/.test(l.message));
    expect(authLines).toHaveLength(1);
    expect(authLines[0].level).toBe('error');
  }, 60_000);

  it.each([
    ['a body over 1 MB', { body: 'x'.repeat(1_500_000) }],
    ['a body cut off mid-way', { body: 'y'.repeat(200_000), cutAfterBytes: 1_000 }],
  ])('a 2xx with %s is a delivered batch: each event arrives exactly once', async (_name, reply) => {
    const { collector } = harness;
    collector.behaviour = () => ({ status: 200, ...reply });
    const failures: SendResult[] = [];
    const { tracker, emitter } = harness.start({ callback: (_s, f) => void failures.push(...f) });
    const eids = Array.from({ length: 500 }, (_, i) => tracker.trackEvent('answered', { i }).eid);
    expect((await emitter.drain(20_000)).drained).toBe(true);
    expectEachOnce(eidsOf(), eids);
    expect(failures).toEqual([]);
    expect(emitter.stats().sent).toBe(500);
  });

  it('a collector answering 413 to everything: one warning per pass, each event reported at most once, all dead-lettered as too large', async () => {
    const { collector } = harness;
    collector.behaviour = () => ({ status: 413 });
    const deadLetter = join(dir, 'dead.jsonl');
    const { lines, logger } = recordingLogger();
    const failures: SendResult[] = [];
    const { tracker, emitter } = harness.start({
      lingerMs: 1_000,
      maxConcurrentRequests: 1,
      deadLetter: { path: deadLetter },
      logger,
      callback: (_s, f) => void failures.push(...f),
    });
    const eids = Array.from({ length: 100 }, (_, i) => tracker.trackEvent('huge', { i }).eid);
    expect((await emitter.drain(20_000)).drained).toBe(true);
    expect(failures.reduce((n, f) => n + f.eventCount, 0)).toBe(100);
    expect(new Set(failures.flatMap((f) => f.eids))).toEqual(new Set(eids));
    expect(lines.filter((l) => l.level === 'warn' && /HTTP 413/.test(l.message))).toHaveLength(1);
    // Lines are written at the end of the tick in which the events were given up.
    await waitFor(() => readDeadLetters(deadLetter).length === 100, { what: '100 dead-letter lines' });
    expect(readDeadLetters(deadLetter).map((r) => r.reason)).toEqual(new Array(100).fill('too_large'));
    expect(emitter.stats().dropped.too_large).toBe(100);
  });

  it('a 404 is retried with a hint to check the collector path, logged once', async () => {
    const { collector } = harness;
    let found = false;
    collector.behaviour = () => (found ? { status: 200 } : { status: 404 });
    const { lines, logger } = recordingLogger();
    const { tracker } = harness.start({ logger, backoff: { baseMs: 5, capMs: 20 } });
    const { eid } = tracker.trackEvent('lost_path');
    await waitFor(() => collector.requests.length >= 3, { what: 'several 404s' });
    expect(lines.filter((l) => /check the collector path/.test(l.message))).toHaveLength(1);
    found = true;
    await collector.waitForEvents(1);
    expect(eidsOf()).toEqual([eid]);
  });

  it('a bare-origin collectorUrl sends to /com.snowplowanalytics.snowplow/tp2', async () => {
    const { collector } = harness;
    const { tracker, emitter } = harness.start({ collectorUrl: collector.url });
    expect(emitter.collectorUrl).toBe(`${collector.url}/com.snowplowanalytics.snowplow/tp2`);
    tracker.trackEvent('origin_only');
    await collector.waitForEvents(1);
    expect(collector.requests[0].url).toBe('/com.snowplowanalytics.snowplow/tp2');
  });
});

describe('shutdown accounting', () => {
  const harness = useEmitterHarness({ appId: 'shutdown' });
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'snowplow-shutdown-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('in memory: what stop() cannot deliver is counted as dropped(shutdown), logged and dead-lettered', async () => {
    await harness.collector.close();
    const registry = new Registry();
    const metrics = new EmitterMetrics({ registry });
    const { lines, logger } = recordingLogger();
    const deadLetter = join(dir, 'dead.jsonl');
    const { tracker, emitter } = harness.start({ observer: metrics, logger, deadLetter: { path: deadLetter } });
    metrics.watch(emitter);
    const billing = Array.from({ length: 10 }, () => tracker.trackBillingEvent(BILL).eid);
    const custom = Array.from({ length: 240 }, (_, i) => tracker.trackEvent('late', { i }).eid);
    expect((await emitter.drain(300)).drained).toBe(false);
    await emitter.stop();
    expect(emitter.stats().dropped.shutdown).toBe(250);
    expect(emitter.stats().billing.dropped.shutdown).toBe(10);
    expect(emitter.stats().queued).toBe(0);
    const text = await registry.metrics();
    expect(text).toContain('snowplow_events_dropped_total{tracker="default",reason="shutdown",kind="billing"} 10');
    expect(text).toContain('snowplow_events_dropped_total{tracker="default",reason="shutdown",kind="custom"} 240');
    const records = readDeadLetters(deadLetter);
    expect(new Set(records.map((r) => r.eid))).toEqual(new Set([...billing, ...custom]));
    expect(records.every((r) => r.reason === 'shutdown')).toBe(true);
    const line = lines.find((l) => /250 events not delivered at shutdown \(10 billing\)/.test(l.message));
    expect(line).toMatchObject({ level: 'error' });
  });

  it('the core emitter never discards its queue silently: stop() before start() counts what it held', async () => {
    const { lines, logger } = recordingLogger();
    const idle = new Emitter({ collectorUrl: harness.collector.endpoint, logger });
    new Tracker({ appId: 'idle', emitter: idle }).trackEvent('never_sent');
    await idle.stop();
    expect(idle.stats().dropped.shutdown).toBe(1);
    expect(lines.some((l) => /1 events not delivered at shutdown/.test(l.message))).toBe(true);
  });

  it('durable: what stop() cannot deliver stays in the outbox, and the log says so', async () => {
    await harness.collector.close();
    const { lines, logger } = recordingLogger();
    const { tracker, emitter } = harness.start({ logger, storage: { type: 'sqlite', path: join(dir, 'outbox.db') } });
    for (let i = 0; i < 5; i++) tracker.trackBillingEvent(BILL);
    for (let i = 0; i < 20; i++) tracker.trackEvent('kept', { i });
    await emitter.stop();
    expect(emitter.stats().dropped.shutdown).toBe(0);
    expect(
      lines.some((l) =>
        /25 events \(5 billing\) are kept in the outbox \S+ for the next start; they are lost if this disk does not outlive the process/.test(
          l.message,
        ),
      ),
    ).toBe(true);
  });
});
