import { Emitter, EmitterOptions, Tracker, TrackerOptions } from '../../lib/core';
import { LocalCollector, startLocalCollector } from '../../lib/testing/local-collector';

export const quietLogger = { warn: () => undefined, error: () => undefined };

/**
 * Per test: a fresh loopback LocalCollector, and `start()` for a started Emitter + Tracker aimed at
 * it. Both are stopped and closed after each test. Call inside a `describe`.
 */
export function useEmitterHarness(trackerOptions: Partial<Omit<TrackerOptions, 'emitter'>> = {}) {
  const harness = {
    collector: undefined as unknown as LocalCollector,
    emitter: undefined as Emitter | undefined,
    start(options: Partial<EmitterOptions> = {}) {
      const emitter = new Emitter({ collectorUrl: harness.collector.endpoint, logger: quietLogger, ...options });
      harness.emitter = emitter;
      emitter.start();
      return { emitter, tracker: new Tracker({ appId: 'test-app', ...trackerOptions, emitter }) };
    },
  };
  beforeEach(async () => {
    harness.collector = await startLocalCollector();
  });
  afterEach(async () => {
    await harness.emitter?.stop();
    harness.emitter = undefined;
    await harness.collector.close();
  });
  return harness;
}
