import { randomUUID } from 'node:crypto';
import { dirname } from 'node:path';
import type * as NodeTrackerModule from '@snowplow/node-tracker';
import type { EventStore } from '@snowplow/node-tracker';
import type * as OurModule from 'nestjs-snowplow/core';

/** The event every subject tracks but the `-sd` ones: a custom event with a name and two small props. */
export const EVENT_NAME = 'bench_click';
export const EVENT_PROPS: Readonly<Record<string, unknown>> = Object.freeze({ plan: 'premium', seats: 3 });
export const APP_ID = 'bench';
export const NAMESPACE = 'gitlab';

/**
 * The `-sd` subjects' event (row 1 and `npm run bench:instructions`): a self-describing event of a
 * test schema with two entities, the schemas of test/fixtures/iglu (`com.acme/checkout`, `cart`,
 * `tenant`).
 */
export const SD_EVENT = Object.freeze({
  schema: 'iglu:com.acme/checkout/jsonschema/1-0-0',
  data: Object.freeze({ orderId: 'o-1042', total: 42.5, currency: 'EUR' }),
});
export const SD_ENTITIES = Object.freeze([
  Object.freeze({ schema: 'iglu:com.acme/cart/jsonschema/1-0-0', data: Object.freeze({ items: 3, coupon: null }) }),
  Object.freeze({ schema: 'iglu:com.acme/tenant/jsonschema/1-0-0', data: Object.freeze({ tenant: 'acme' }) }),
]);

/**
 * What is measured:
 * - `ours`: `new Tracker({ appId, emitter })` over an `Emitter` with default options (ring buffer of 10,000).
 * - `ours-100k`: the same with `capacity: 100_000`, enough for the 100,000-event burst.
 * - `node-tracker`: `newTracker` with its default emitter (in-memory store of 1,000, bufferSize 10).
 * - `node-tracker-unbounded`: the same with `eventStore: newInMemoryEventStore({ maxSize: Infinity })`.
 * - `floor`: JSON.stringify of the same payload + randomUUID + base64, kept in a small array.
 * - `ours-sd`, `node-tracker-sd`: as `ours` and `node-tracker`, tracking `SD_EVENT` with the two
 *   `SD_ENTITIES` (ours `trackSelfDescribingEvent(event, { entities })`, node-tracker
 *   `track(buildSelfDescribingEvent({ event }), entities)`).
 *
 * Each library is loaded only by the subjects that use it, so a child process holds one of them.
 */
export type SubjectName =
  'ours' | 'ours-100k' | 'node-tracker' | 'node-tracker-unbounded' | 'floor' | 'ours-sd' | 'node-tracker-sd';

export const SUBJECT_LABELS: Record<SubjectName, string> = {
  ours: 'nestjs-snowplow (defaults: ring buffer 10,000)',
  'ours-100k': 'nestjs-snowplow (capacity 100,000)',
  'node-tracker': '@snowplow/node-tracker (defaults: store 1,000)',
  'node-tracker-unbounded': '@snowplow/node-tracker (unbounded store)',
  floor: 'floor: JSON.stringify + randomUUID + base64',
  'ours-sd': 'nestjs-snowplow `trackSelfDescribingEvent`, 2 entities (defaults)',
  'node-tracker-sd': '@snowplow/node-tracker self-describing event, 2 entities (defaults)',
};

export interface Subject {
  readonly name: SubjectName;
  track(): void;
  /** Tracks the subject's event and returns its eid (the floor returns ''). */
  trackEid(): string;
  /** Ours only: tracks a billing event (`trackBillingEvent(BILLING_EVENT)`) and returns its eid. */
  trackBilling?(): string;
  /** Events held in memory, not yet delivered (as far as the library tells). */
  queued(): Promise<number>;
  /** Delivers what it can (bounded by timeoutMs) and releases what it can. */
  close(timeoutMs: number): Promise<void>;
}

/** The framework-free entry: a standalone Tracker + Emitter loads nothing from Nest. */
function loadOurs(): typeof OurModule {
  return require('nestjs-snowplow/core') as typeof OurModule;
}

function loadNodeTracker(): typeof NodeTrackerModule {
  return require('@snowplow/node-tracker') as typeof NodeTrackerModule;
}

type NewInMemoryEventStore = (config: { maxSize?: number }) => EventStore;

/**
 * node-tracker's own in-memory store (what its emitter uses by default), from the copy of
 * @snowplow/tracker-core that node-tracker itself loads; node-tracker does not re-export it.
 */
function loadInMemoryEventStore(): NewInMemoryEventStore {
  const from = dirname(require.resolve('@snowplow/node-tracker'));
  const core = require(require.resolve('@snowplow/tracker-core', { paths: [from] })) as {
    newInMemoryEventStore: NewInMemoryEventStore;
  };
  return core.newInMemoryEventStore;
}

/** Schema URIs as the library writes them (the floor must not load a library to get them). */
const UNSTRUCT_EVENT_SCHEMA = 'iglu:com.snowplowanalytics.snowplow/unstruct_event/jsonschema/1-0-0';
const CUSTOM_EVENT_SCHEMA = 'iglu:com.gitlab/custom_event/jsonschema/1-0-0';

/**
 * Extra Emitter options for our subjects, as JSON in BENCH_EMITTER_OPTIONS (e.g. '{"batchSize":500}'),
 * to try a setting across every row; the results header names them.
 */
export function emitterOptionsFromEnv(env: NodeJS.ProcessEnv = process.env): Record<string, unknown> {
  const raw = env.BENCH_EMITTER_OPTIONS?.trim();
  if (!raw) return {};
  const parsed = JSON.parse(raw) as unknown;
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new Error('BENCH_EMITTER_OPTIONS must be a JSON object of Emitter options');
  }
  return parsed as Record<string, unknown>;
}

/** The billing event of the `trackBilling` subjects (row 1b's billing line). */
export const BILLING_EVENT = Object.freeze({
  category: 'ci',
  eventType: 'ci_minutes',
  realm: 'SaaS',
  unitOfMeasure: 'minute',
  quantity: 2,
} as const);

/**
 * What a measuring child can ask of a subject besides tracking (rows 1b and 11): extra Emitter
 * options, and to be told what the collector accepted.
 */
export interface SubjectHooks {
  /** Extra options for our Emitter, over BENCH_EMITTER_OPTIONS (ours only). */
  emitterOptions?: Record<string, unknown>;
  /**
   * The eids of one request the collector answered with a 2xx, when the library says so: ours
   * from the Emitter's `callback(successes)` (once per send pass, one call per request of the
   * pass), node-tracker from `onRequestSuccess` (once per request).
   */
  delivered?: (eids: readonly string[]) => void;
  /** Ours only: each request's own duration, ms, and whether it succeeded (the observer's `requestFinished`). */
  requestFinished?: (ms: number, ok: boolean) => void;
}

function ours(
  name: SubjectName,
  collectorEndpoint: string,
  capacity?: number,
  selfDescribing = false,
  hooks: SubjectHooks = {},
): Subject {
  const { Emitter, Tracker } = loadOurs();
  const { delivered, requestFinished } = hooks;
  const emitter = new Emitter({
    ...emitterOptionsFromEnv(),
    ...hooks.emitterOptions,
    collectorUrl: collectorEndpoint,
    ...(capacity === undefined ? {} : { capacity }),
    logger: { warn: () => undefined, error: () => undefined },
    ...(delivered
      ? {
          callback: (successes: ReadonlyArray<{ eids: string[] }>) => {
            for (const result of successes) delivered(result.eids);
          },
        }
      : {}),
    ...(requestFinished
      ? {
          observer: {
            eventsEnqueued: () => undefined,
            requestFinished: (result: 'success' | 'failure', seconds: number) =>
              requestFinished(seconds * 1000, result === 'success'),
            eventsSent: () => undefined,
            eventsDropped: () => undefined,
            authFailed: () => undefined,
          },
        }
      : {}),
  });
  emitter.start();
  const tracker = new Tracker({ appId: APP_ID, emitter, namespace: NAMESPACE });
  const props = EVENT_PROPS as Record<string, unknown>;
  const options = { entities: SD_ENTITIES };
  return {
    name,
    track: selfDescribing
      ? () => {
          tracker.trackSelfDescribingEvent(SD_EVENT, options);
        }
      : () => {
          tracker.trackEvent(EVENT_NAME, props);
        },
    trackEid: selfDescribing
      ? () => tracker.trackSelfDescribingEvent(SD_EVENT, options).eid
      : () => tracker.trackEvent(EVENT_NAME, props).eid,
    trackBilling: () => tracker.trackBillingEvent(BILLING_EVENT).eid,
    queued: async () => {
      const s = emitter.stats();
      return s.queued + s.inFlight;
    },
    close: async (timeoutMs) => {
      await emitter.drain(timeoutMs);
      await emitter.stop();
    },
  };
}

function nodeTracker(
  name: SubjectName,
  collectorOrigin: string,
  unbounded: boolean,
  selfDescribing = false,
  hooks: SubjectHooks = {},
): Subject {
  const { buildSelfDescribingEvent, newTracker } = loadNodeTracker();
  const newInMemoryEventStore = loadInMemoryEventStore();
  const store = newInMemoryEventStore(unbounded ? { maxSize: Number.POSITIVE_INFINITY } : {});
  const { delivered } = hooks;
  const tracker = newTracker(
    { namespace: NAMESPACE, appId: APP_ID },
    {
      endpoint: collectorOrigin,
      eventStore: store,
      ...(delivered
        ? {
            onRequestSuccess: (payloads: NodeTrackerModule.EventBatch) => delivered(payloads.map((p) => String(p.eid))),
          }
        : {}),
    },
  );
  const event = { schema: CUSTOM_EVENT_SCHEMA, data: { name: EVENT_NAME, props: EVENT_PROPS } };
  const entities = SD_ENTITIES as unknown as NodeTrackerModule.SelfDescribingJson[];
  return {
    name,
    track: selfDescribing
      ? () => {
          tracker.track(buildSelfDescribingEvent({ event: SD_EVENT }), entities);
        }
      : () => {
          tracker.track(buildSelfDescribingEvent({ event }));
        },
    trackEid: selfDescribing
      ? () => String(tracker.track(buildSelfDescribingEvent({ event: SD_EVENT }), entities)?.eid ?? '')
      : () => String(tracker.track(buildSelfDescribingEvent({ event }))?.eid ?? ''),
    queued: () => store.count(),
    close: async (timeoutMs) => {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([tracker.flush(), new Promise((resolve) => (timer = setTimeout(resolve, timeoutMs)))]);
      clearTimeout(timer);
    },
  };
}

function floor(): Subject {
  const sink: string[] = new Array<string>(1024).fill('');
  let i = 0;
  const track = () => {
    const uePx = Buffer.from(
      JSON.stringify({
        schema: UNSTRUCT_EVENT_SCHEMA,
        data: { schema: CUSTOM_EVENT_SCHEMA, data: { name: EVENT_NAME, props: EVENT_PROPS } },
      }),
      'utf8',
    ).toString('base64url');
    sink[i++ & 1023] = JSON.stringify({
      e: 'ue',
      eid: randomUUID(),
      dtm: String(Date.now()),
      p: 'srv',
      tna: NAMESPACE,
      aid: APP_ID,
      tv: 'nestjs-snowplow-0.1.0',
      ua: 'nestjs-snowplow/0.1.0',
      ue_px: uePx,
    });
  };
  return {
    name: 'floor',
    track,
    trackEid: () => {
      track();
      return '';
    },
    queued: async () => 0,
    close: async () => undefined,
  };
}

/** `collectorPort`: the bench collector, or a port nobody listens on (collector down). */
export function createSubject(name: SubjectName, collectorPort: number, hooks: SubjectHooks = {}): Subject {
  const origin = `http://127.0.0.1:${collectorPort}`;
  const endpoint = `${origin}/com.snowplowanalytics.snowplow/tp2`;
  switch (name) {
    case 'ours':
      return ours(name, endpoint, undefined, false, hooks);
    case 'ours-100k':
      return ours(name, endpoint, 100_000, false, hooks);
    case 'node-tracker':
      return nodeTracker(name, origin, false, false, hooks);
    case 'node-tracker-unbounded':
      return nodeTracker(name, origin, true, false, hooks);
    case 'floor':
      return floor();
    case 'ours-sd':
      return ours(name, endpoint, undefined, true, hooks);
    case 'node-tracker-sd':
      return nodeTracker(name, origin, false, true, hooks);
  }
}

export function nodeTrackerVersion(): string {
  return (require('@snowplow/node-tracker/package.json') as { version: string }).version;
}
