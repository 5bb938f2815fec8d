/**
 * The two libraries as `npm run bench:instructions` drives them (bench/children/instructions-*.ts).
 * Same events as the other rows (bench/support/subjects.ts): the custom event, or (`selfDescribing`)
 * the self-describing event with two entities. Each library is loaded only by the subject that uses
 * it, so a measured process holds one of them.
 */
import { dirname } from 'node:path';
import type * as NodeTrackerModule from '@snowplow/node-tracker';
import type { EventStore } from '@snowplow/node-tracker';
import type * as OurModule from 'nestjs-snowplow/core';
import { APP_ID, EVENT_NAME, EVENT_PROPS, NAMESPACE, SD_ENTITIES, SD_EVENT } from './subjects';

export type InstructionSubjectName = 'ours' | 'node-tracker';

/** What `track()` tracks: `trackEvent`'s custom event, or a self-describing event with two entities. */
export type InstructionEvent = 'custom' | 'selfDescribing';

const CUSTOM_EVENT_SCHEMA = 'iglu:com.gitlab/custom_event/jsonschema/1-0-0';

/** Our Emitter's default `maxBatchBytes`: node-tracker's `maxPostBytes` (default 40,000) would split a batch. */
export const NODE_TRACKER_MAX_POST_BYTES = 1_000_000;

/**
 * Per request, for both libraries (defaults 5 s): valgrind on a loaded machine can be slower than
 * that, and a timed-out request would be sent again, which is not the path being counted.
 */
export const REQUEST_TIMEOUT_MS = 600_000;

export type InstructionSubjectMode =
  /** Track only: room for this many events, nothing sent. */
  | { holdAll: number }
  /** Send to the collector on this port in batches of exactly `batch` events. */
  | { collectorPort: number; batch: number };

export interface InstructionSubject {
  track(): void;
  /** Events held, not sent (track-only mode). */
  held(): Promise<number>;
  /**
   * Resolves once the collector has accepted `total` events in all; rejects on a failed request.
   * `flush`: send what is held even if it is less than a batch (the warm-up's small batches).
   */
  delivered(total: number, timeoutMs: number, flush?: boolean): Promise<void>;
  close(): Promise<void>;
}

const silent = { warn: () => undefined, error: () => undefined };

function ours(mode: InstructionSubjectMode, tracked: InstructionEvent): InstructionSubject {
  const { Emitter, Tracker } = require('nestjs-snowplow/core') as typeof OurModule;
  const emitter =
    'holdAll' in mode
      ? new Emitter({ collectorUrl: 'http://127.0.0.1:9/unused', capacity: mode.holdAll, logger: silent })
      : new Emitter({
          collectorUrl: `http://127.0.0.1:${mode.collectorPort}/com.snowplowanalytics.snowplow/tp2`,
          batchSize: mode.batch,
          maxBatchSize: mode.batch,
          requestTimeoutMs: REQUEST_TIMEOUT_MS,
          logger: silent,
        });
  if (!('holdAll' in mode)) emitter.start();
  const tracker = new Tracker({ appId: APP_ID, emitter, namespace: NAMESPACE });
  const props = EVENT_PROPS as Record<string, unknown>;
  const options = { entities: SD_ENTITIES };
  return {
    track:
      tracked === 'selfDescribing'
        ? () => {
            tracker.trackSelfDescribingEvent(SD_EVENT, options);
          }
        : () => {
            tracker.trackEvent(EVENT_NAME, props);
          },
    held: async () => emitter.stats().queued,
    delivered: async (total, timeoutMs) => {
      // drain() skips the linger and resolves when nothing is queued or in flight.
      const result = await emitter.drain(timeoutMs);
      const sent = emitter.stats().sent;
      if (!result.drained || sent !== total) {
        throw new Error(`ours: ${sent} of ${total} events accepted by the collector (drained: ${result.drained})`);
      }
    },
    close: async () => {
      await emitter.stop();
    },
  };
}

type NewInMemoryEventStore = (config: { maxSize?: number }) => EventStore;

/** node-tracker's in-memory store, from the @snowplow/tracker-core copy node-tracker itself loads. */
function loadInMemoryEventStore(): NewInMemoryEventStore {
  const from = dirname(require.resolve('@snowplow/node-tracker'));
  const core = require(require.resolve('@snowplow/tracker-core', { paths: [from] })) as {
    newInMemoryEventStore: NewInMemoryEventStore;
  };
  return core.newInMemoryEventStore;
}

function nodeTracker(mode: InstructionSubjectMode, tracked: InstructionEvent): InstructionSubject {
  const { buildSelfDescribingEvent, newTracker } = require('@snowplow/node-tracker') as typeof NodeTrackerModule;
  let sent = 0;
  let failure: string | undefined;
  let waiter: { total: number; resolve: () => void; reject: (err: Error) => void } | undefined;
  const settle = () => {
    if (!waiter) return;
    if (failure) waiter.reject(new Error(`node-tracker: a request failed: ${failure}`));
    else if (sent >= waiter.total) waiter.resolve();
    else return;
    waiter = undefined;
  };
  let store: EventStore;
  let tracker: NodeTrackerModule.Tracker;
  if ('holdAll' in mode) {
    store = loadInMemoryEventStore()({ maxSize: Number.POSITIVE_INFINITY });
    tracker = newTracker(
      { namespace: NAMESPACE, appId: APP_ID },
      { endpoint: 'http://127.0.0.1:9', eventStore: store, bufferSize: mode.holdAll },
    );
  } else {
    store = loadInMemoryEventStore()({});
    tracker = newTracker(
      { namespace: NAMESPACE, appId: APP_ID },
      {
        endpoint: `http://127.0.0.1:${mode.collectorPort}`,
        eventStore: store,
        bufferSize: mode.batch,
        maxPostBytes: NODE_TRACKER_MAX_POST_BYTES,
        connectionTimeout: REQUEST_TIMEOUT_MS,
        onRequestSuccess: (payloads) => {
          sent += payloads.length;
          settle();
        },
        onRequestFailure: (f) => {
          failure = `${f.status ?? ''} ${f.message ?? ''}`.trim();
          settle();
        },
      },
    );
  }
  const event = { schema: CUSTOM_EVENT_SCHEMA, data: { name: EVENT_NAME, props: EVENT_PROPS } };
  const entities = SD_ENTITIES as unknown as NodeTrackerModule.SelfDescribingJson[];
  return {
    track:
      tracked === 'selfDescribing'
        ? () => {
            tracker.track(buildSelfDescribingEvent({ event: SD_EVENT }), entities);
          }
        : () => {
            tracker.track(buildSelfDescribingEvent({ event }));
          },
    held: () => store.count(),
    delivered: (total, timeoutMs, flush) =>
      new Promise<void>((resolve, reject) => {
        if (flush) void tracker.flush();
        const timer = setTimeout(() => {
          waiter = undefined;
          reject(new Error(`node-tracker: ${sent} of ${total} events accepted within ${timeoutMs} ms`));
        }, timeoutMs);
        waiter = {
          total,
          resolve: () => {
            clearTimeout(timer);
            resolve();
          },
          reject: (err) => {
            clearTimeout(timer);
            reject(err);
          },
        };
        settle();
      }),
    close: async () => undefined,
  };
}

export function instructionSubject(
  name: InstructionSubjectName,
  mode: InstructionSubjectMode,
  tracked: InstructionEvent = 'custom',
): InstructionSubject {
  return name === 'ours' ? ours(mode, tracked) : nodeTracker(mode, tracked);
}
