import { Emitter, InvalidOptionError, Tracker } from '../../lib/core';
import { DEFAULT_MAX_LINGER_MS } from '../../lib/emitter/emitter-options';
import { decodeAccepted } from '../support/decode';
import { useEmitterHarness } from '../support/emitter-harness';
import { waitFor } from '../support/wait-for';

/** Events per accepted request, in the order the collector read them. */
const sizes = (requests: ReadonlyArray<{ body: string }>): number[] =>
  requests.map((r) => (JSON.parse(r.body) as { data: unknown[] }).data.length);

/** Lets the send loop run a few times over (no timer involved). */
const turns = async (n: number): Promise<void> => {
  for (let i = 0; i < n; i++) await new Promise((resolve) => setImmediate(resolve));
};

const usage = (quantity: number) => ({
  category: 'c',
  eventType: 'ci_minutes',
  realm: 'SaaS' as const,
  unitOfMeasure: 'min',
  quantity,
});

// Timing: every bound below is a lower bound on a wait the emitter must make (a loaded machine only
// makes it longer), or an upper bound far below a budget the emitter must not wait out.
describe('adaptive batching: under sustained load a batch waits up to maxLingerMs to fill', () => {
  const harness = useEmitterHarness();

  /**
   * A started emitter whose first batch (batchSize events, tracked at once) reached batchSize
   * before lingerMs ran out: the load counts as sustained from then on.
   */
  async function sustained(options: Record<string, unknown> = {}) {
    const started = harness.start({
      batchSize: 5,
      maxBatchSize: 50,
      lingerMs: 5_000,
      maxLingerMs: 20_000,
      maxConcurrentRequests: 1,
      ...options,
    });
    for (let i = 0; i < 5; i++) started.tracker.trackEvent('first', { i });
    await harness.collector.waitForEvents(5);
    expect(sizes(harness.collector.accepted())).toEqual([5]);
    return started;
  }

  /**
   * Ten bursts of 5 events (the send loop runs between them, and sends nothing meanwhile); then
   * the collector has them as one request of 50, in order.
   */
  async function burstsOfFive(tracker: Tracker, name: string): Promise<void> {
    const eids: string[] = [];
    for (let burst = 0; burst < 10; burst++) {
      for (let i = 0; i < 5; i++) eids.push(tracker.trackEvent(name, { burst, i }).eid);
      await turns(20);
      if (burst < 9) expect(harness.collector.accepted()).toHaveLength(1);
    }
    await harness.collector.waitForEvents(55);
    expect(sizes(harness.collector.accepted())).toEqual([5, 50]);
    const sent = decodeAccepted(harness.collector).slice(5);
    expect(sent.map((e) => e.eid)).toEqual(eids);
  }

  it('the next batch leaves only when maxBatchSize events wait, as one request, though batchSize waited long before', async () => {
    const { tracker } = await sustained();
    // labkit's contract alone would send each five now (batchSize reached); they wait for more.
    await burstsOfFive(tracker, 'next');
  });

  it('bursts each answered before the next are a sustained load too: the queue emptying between them changes nothing', async () => {
    const { tracker, emitter } = await sustained();
    // The first batch's request is answered and the send loop finds the queue empty.
    await expect(emitter.drain(15_000)).resolves.toMatchObject({ drained: true, remaining: 0 });
    await burstsOfFive(tracker, 'burst');
  });

  it('a pause shorter than maxLingerMs (a slow burst, a GC) keeps the load sustained: the next batch still fills', async () => {
    const { tracker, emitter } = await sustained({ lingerMs: 200, maxLingerMs: 20_000 });
    await emitter.drain(15_000);
    const idleSince = Date.now();
    // Longer than lingerMs, well within the budget.
    await waitFor(() => Date.now() - idleSince > 400, { what: 'a pause longer than lingerMs', intervalMs: 50 });
    await burstsOfFive(tracker, 'after-short-pause');
  });

  it('a pause longer than maxLingerMs after a batch ends the sustained load: the next batchSize events leave at once', async () => {
    const { tracker, emitter } = await sustained({ lingerMs: 200, maxLingerMs: 600 });
    await emitter.drain(15_000);
    const idleSince = Date.now();
    await waitFor(() => Date.now() - idleSince > 800, { what: 'a pause longer than maxLingerMs', intervalMs: 50 });
    for (let i = 0; i < 5; i++) tracker.trackEvent('after-pause', { i });
    await harness.collector.waitForEvents(10, 10_000);
    expect(sizes(harness.collector.accepted())).toEqual([5, 5]);
  });

  it('events tracked past a full batch in one go wait for the next batch, not a request of their own', async () => {
    const { tracker } = await sustained();
    const eids: string[] = [];
    const track = (n: number) => {
      for (let i = 0; i < n; i++) eids.push(tracker.trackEvent('over', { i: eids.length }).eid);
    };
    track(5);
    await turns(20);
    track(40);
    await turns(20);
    // 45 wait; 12 at once take the queue to 57: one request of 50 leaves, 7 wait for the next batch.
    track(12);
    await harness.collector.waitForEvents(55);
    await turns(20);
    expect(sizes(harness.collector.accepted())).toEqual([5, 50]);
    track(43);
    await harness.collector.waitForEvents(105);
    expect(sizes(harness.collector.accepted())).toEqual([5, 50, 50]);
    const sent = decodeAccepted(harness.collector).slice(5);
    expect(sent.map((e) => e.eid)).toEqual(eids);
  });

  it('a batch that does not fill leaves when maxLingerMs has passed since its first event, not before', async () => {
    const { tracker } = await sustained({ lingerMs: 1_000, maxLingerMs: 1_500 });
    const trackedAt = Date.now();
    for (let i = 0; i < 6; i++) tracker.trackEvent('partial', { i });
    await harness.collector.waitForEvents(11, 15_000);
    const [, second] = harness.collector.accepted();
    expect(sizes(harness.collector.accepted())).toEqual([5, 6]);
    // The wait is counted from the first queued event: never shorter than the budget.
    expect(second.receivedAt - trackedAt).toBeGreaterThanOrEqual(1_500 - 5);
  });

  it('under light load nothing changes: fewer than batchSize leave after lingerMs, never held to maxLingerMs', async () => {
    const { tracker } = harness.start({ batchSize: 5, maxBatchSize: 50, lingerMs: 300, maxLingerMs: 30_000 });
    const trackedAt = Date.now();
    for (let i = 0; i < 3; i++) tracker.trackEvent('trickle', { i });
    await harness.collector.waitForEvents(3, 15_000);
    const [request] = harness.collector.accepted();
    expect(sizes(harness.collector.accepted())).toEqual([3]);
    expect(request.receivedAt - trackedAt).toBeGreaterThanOrEqual(300 - 5);
    expect(request.receivedAt - trackedAt).toBeLessThan(15_000);
  });

  it('when the load falls (batchSize not reached within lingerMs), the batch leaves after lingerMs', async () => {
    const { tracker } = await sustained({ lingerMs: 400 });
    const trackedAt = Date.now();
    for (let i = 0; i < 2; i++) tracker.trackEvent('slower', { i });
    await harness.collector.waitForEvents(7, 15_000);
    expect(sizes(harness.collector.accepted())).toEqual([5, 2]);
    expect(harness.collector.accepted()[1].receivedAt - trackedAt).toBeLessThan(15_000);
  });

  it('a billing event never waits out the budget: it leaves at once alone, and the custom batch still fills', async () => {
    const { tracker } = await sustained();
    const custom: string[] = [];
    for (let i = 0; i < 5; i++) custom.push(tracker.trackEvent('waiting', { i }).eid);
    await turns(20);
    const bill = tracker.trackBillingEvent(usage(1)).eid;
    await harness.collector.waitForEvents(6, 10_000);
    // The bill went alone; the five custom events still wait for their batch to fill.
    expect(sizes(harness.collector.accepted())).toEqual([5, 1]);
    expect(decodeAccepted(harness.collector)[5]).toMatchObject({ eid: bill, eventType: 'se' });
    for (let i = 5; i < 50; i++) custom.push(tracker.trackEvent('waiting', { i }).eid);
    await harness.collector.waitForEvents(56);
    expect(sizes(harness.collector.accepted())).toEqual([5, 1, 50]);
    expect(
      decodeAccepted(harness.collector)
        .slice(6)
        .map((e) => e.eid),
    ).toEqual(custom);
  });

  it('a billing event tracked with custom events under light load waits with them (labkit: one request)', async () => {
    const { tracker } = harness.start({ batchSize: 5, maxBatchSize: 50, lingerMs: 300, maxLingerMs: 30_000 });
    tracker.trackEvent('one');
    tracker.trackBillingEvent(usage(2));
    await harness.collector.waitForEvents(2, 15_000);
    expect(sizes(harness.collector.accepted())).toEqual([2]);
  });

  it('drain() does not wait for a batch to fill', async () => {
    const { tracker, emitter } = await sustained();
    for (let i = 0; i < 7; i++) tracker.trackEvent('drained', { i });
    await turns(20);
    const before = Date.now();
    await expect(emitter.drain(15_000)).resolves.toMatchObject({ drained: true, sent: 7, remaining: 0 });
    expect(Date.now() - before).toBeLessThan(15_000);
    expect(sizes(harness.collector.accepted())).toEqual([5, 7]);
  });

  it('flush() sends the lingering batch now', async () => {
    const { tracker, emitter } = await sustained();
    for (let i = 0; i < 8; i++) tracker.trackEvent('flushed', { i });
    await turns(20);
    expect(harness.collector.accepted()).toHaveLength(1);
    emitter.flush();
    await harness.collector.waitForEvents(13, 15_000);
    expect(sizes(harness.collector.accepted())).toEqual([5, 8]);
  });

  it('stop() does not wait for the batch to fill: what waits is accounted for at once', async () => {
    const { tracker, emitter } = await sustained();
    for (let i = 0; i < 6; i++) tracker.trackEvent('stopped', { i });
    await turns(20);
    const before = Date.now();
    await emitter.stop();
    expect(Date.now() - before).toBeLessThan(15_000);
    expect(emitter.stats().custom.dropped.shutdown).toBe(6);
  });

  it('a batch waits for maxBatchBytes too: it leaves once its events fill a request body', async () => {
    // About 20 events of ~450 bytes fill 10,000 bytes; maxBatchSize alone would wait for 1,000.
    const { tracker } = await sustained({ maxBatchSize: 1_000, maxBatchBytes: 10_000 });
    const pad = 'x'.repeat(300);
    let tracked = 0;
    await waitFor(
      async () => {
        tracker.trackEvent('big', { pad, i: tracked++ });
        await turns(2);
        return harness.collector.accepted().length > 1;
      },
      { what: 'a full-body batch', timeoutMs: 15_000, intervalMs: 1 },
    );
    const second = sizes(harness.collector.accepted())[1];
    expect(second).toBeGreaterThan(5);
    expect(second).toBeLessThan(100);
    const body = harness.collector.accepted()[1].body;
    expect(Buffer.byteLength(body)).toBeLessThanOrEqual(10_000);
  });

  it("maxLingerMs 0 keeps labkit's contract alone: batchSize events leave at once", async () => {
    const { tracker } = await sustained({ maxLingerMs: 0 });
    for (let i = 0; i < 5; i++) tracker.trackEvent('at-once', { i });
    await harness.collector.waitForEvents(10, 10_000);
    expect(sizes(harness.collector.accepted())).toEqual([5, 5]);
  });
});

describe('maxLingerMs: checked and defaulted', () => {
  const url = 'http://127.0.0.1:9/com.snowplowanalytics.snowplow/tp2';
  const resolved = (options: Record<string, unknown>) => new Emitter({ collectorUrl: url, ...options }).options;

  it(`defaults to ${DEFAULT_MAX_LINGER_MS} ms, to lingerMs when that is larger, and to 0 (off) when lingerMs is 0`, () => {
    expect(resolved({}).maxLingerMs).toBe(100);
    expect(resolved({ lingerMs: 250 }).maxLingerMs).toBe(250);
    expect(resolved({ lingerMs: 0 }).maxLingerMs).toBe(0);
    expect(resolved({ lingerMs: 0, maxLingerMs: 40 }).maxLingerMs).toBe(40);
  });

  it.each([
    [{ maxLingerMs: 10, lingerMs: 20 }, '"maxLingerMs": must be 0 (off) or at least lingerMs (20)'],
    [{ maxLingerMs: -1 }, '"maxLingerMs"'],
    [{ maxLingerMs: 1.5 }, '"maxLingerMs"'],
    [{ maxLingerMs: 60_001 }, '"maxLingerMs"'],
    [{ maxLingerMs: '100' }, '"maxLingerMs"'],
  ])('refuses %j with an InvalidOptionError naming the option', (options, message) => {
    let caught: unknown;
    try {
      resolved(options);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(InvalidOptionError);
    expect((caught as InvalidOptionError).code).toBe('INVALID_OPTION');
    expect((caught as Error).message).toContain(message);
  });
});
