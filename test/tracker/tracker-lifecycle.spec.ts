// Tracker.flush() and Tracker.stop() (labkit's Tracker.Flush() and Stop()) act on the real emitter.
import { EmitterStoppedError, TrackedPayload, Tracker } from '../../lib/core';
import { useEmitterHarness } from '../support/emitter-harness';

const LINGER_MS = 60_000;

describe('Tracker.flush and Tracker.stop with the Emitter', () => {
  const harness = useEmitterHarness();

  it('flush() sends a lingering event now instead of after lingerMs', async () => {
    const { tracker } = harness.start({ lingerMs: LINGER_MS, batchSize: 100 });
    const startedAt = Date.now();
    const { eid } = tracker.trackEvent('flushed');
    expect(tracker.flush()).toBeUndefined();
    const [event] = await harness.collector.waitForEvents(1, LINGER_MS / 4);
    expect(event.eid).toBe(eid);
    expect(Date.now() - startedAt).toBeLessThan(LINGER_MS);
  });

  it('stop() stops the emitter: track methods then throw EmitterStoppedError, and stopping again is fine', async () => {
    const { emitter, tracker } = harness.start();
    await tracker.stop();
    expect(emitter.isStopped).toBe(true);
    expect(() => tracker.trackEvent('late')).toThrow(EmitterStoppedError);
    const required = { category: 'c', eventType: 'e', realm: 'SaaS', unitOfMeasure: 'u', quantity: 1 } as const;
    expect(() => tracker.trackBillingEvent(required)).toThrow(EmitterStoppedError);
    await expect(tracker.stop()).resolves.toBeUndefined();
    expect(emitter.queueDepth).toBe(0);
  });
});

describe('Tracker.flush and Tracker.stop with a sink that has neither', () => {
  it('flush() does nothing and stop() resolves; tracking goes on', async () => {
    const payloads: TrackedPayload[] = [];
    const tracker = new Tracker({ appId: 'app', emitter: { enqueue: (payload) => void payloads.push(payload) } });
    tracker.flush();
    await expect(tracker.stop()).resolves.toBeUndefined();
    tracker.trackEvent('still_tracked');
    expect(payloads).toHaveLength(1);
  });
});
