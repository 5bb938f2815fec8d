// One loopback collector per spec file that validates against test/fixtures/iglu (the protocol
// schemas and the test-only com.acme ones), trackers on real emitters that send at once, and what
// `GET /micro/good` gives back after a drain, as a user reads it.
import { Emitter, Tracker, TrackerOptions } from '../../../lib/core';
import { LocalCollector, startLocalCollector } from '../../../lib/testing/local-collector';
import { GoodEvent } from '../../../lib/testing/types';
import { FIXTURE_IGLU_DIR } from '../../support/decode';

export const CHECKOUT = 'iglu:com.acme/checkout/jsonschema/1-0-0';
export const CART = 'iglu:com.acme/cart/jsonschema/1-0-0';
export const BILLABLE_USAGE = 'iglu:com.gitlab/billable_usage/jsonschema/1-0-2';
export const BILL = {
  category: 'ci',
  eventType: 'ci_minutes',
  realm: 'SaaS',
  unitOfMeasure: 'minute',
  quantity: 3,
} as const;

export interface FixtureCollector {
  /** The collector of the running spec file (started in `beforeAll`, reset before each test). */
  readonly collector: LocalCollector;
  /** A tracker of `appId` and `defaults` (and `options`) on an emitter stopped after the test. */
  trackerOf(options?: Partial<TrackerOptions>): { tracker: Tracker; emitter: Emitter };
  /** Drains `emitter`, fails on any event the collector found invalid, and returns `GET /micro/good`. */
  good(emitter: Emitter): Promise<GoodEvent[]>;
  /** An emitter the test built itself, stopped after the test like the others. */
  stopAfter(emitter: Emitter): Emitter;
}

/** Registers the hooks of a spec file: call at its top. */
export function useFixtureCollector(appId: string, defaults: Partial<TrackerOptions> = {}): FixtureCollector {
  let collector: LocalCollector | undefined;
  const emitters: Emitter[] = [];
  beforeAll(async () => {
    collector = await startLocalCollector({ schemaDirs: [FIXTURE_IGLU_DIR] });
  });
  afterAll(() => collector?.close());
  beforeEach(() => collector?.reset());
  afterEach(async () => {
    for (const emitter of emitters.splice(0)) await emitter.stop();
  });
  const suite: FixtureCollector = {
    get collector(): LocalCollector {
      if (!collector) throw new Error('useFixtureCollector: the collector starts in beforeAll');
      return collector;
    },
    trackerOf(options = {}) {
      const emitter = new Emitter({ collectorUrl: suite.collector.endpoint, lingerMs: 0 });
      emitters.push(emitter);
      return { tracker: new Tracker({ appId, emitter, ...defaults, ...options }), emitter };
    },
    stopAfter(emitter) {
      emitters.push(emitter);
      return emitter;
    },
    async good(emitter) {
      expect((await emitter.drain(20_000)).drained).toBe(true);
      expect(suite.collector.bad()).toEqual([]);
      return (await (await fetch(`${suite.collector.url}/micro/good`)).json()) as GoodEvent[];
    },
  };
  return suite;
}

/** `good` by eid, after checking that exactly `count` arrived. */
export async function goodByEid(
  suite: FixtureCollector,
  emitter: Emitter,
  count: number,
): Promise<Map<string, GoodEvent>> {
  const good = await suite.good(emitter);
  expect(good).toHaveLength(count);
  return new Map(good.map((event) => [event.eid as string, event]));
}
