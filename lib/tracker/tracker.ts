import { randomUUID } from 'node:crypto';
import { InvalidOptionError, SnowplowError } from '../errors';
import { TRACKER_VERSION } from '../version';
import {
  BillingEventFields,
  BillingEventOptionalInput,
  BillingEventRequiredInput,
  buildBillingEvent,
  CorrelationIdSource,
} from './billing-event';
import { customEvent } from './custom-event';
import { sqlExecutor, TransactionLike } from './transaction';
import {
  bodyBytes,
  CommitOutcome,
  EnqueueOptions,
  EventSink,
  flat,
  commitOf,
  PayloadWriter,
  serialiseFields,
  TrackedPayload,
} from './payload';

export const DEFAULT_NAMESPACE = 'gitlab';
export const DEFAULT_USER_AGENT = `nestjs-snowplow/${TRACKER_VERSION.slice('nestjs-snowplow-'.length)}`;

/** Options of `new Tracker(...)`. */
export interface TrackerOptions {
  /** `aid` of every event; required, non-empty. */
  appId: string;
  /** Where built events go: an `Emitter` (or anything with `enqueue`). */
  emitter: EventSink;
  /** `tna` of every event. Default `gitlab`. */
  namespace?: string;
  /** `ua` of every event. Default `nestjs-snowplow/<version>`. */
  userAgent?: string;
  /**
   * Called for a billing event tracked without a `correlationId` (unset or empty): the id it
   * returns, when a non-empty string, is sent as `correlation_id`. An explicit value always wins.
   * The Nest module passes the current request's correlation id here.
   */
  defaultCorrelationId?: CorrelationIdSource;
}

/** What tracking a custom event returns. */
export interface TrackResult {
  /** The Snowplow event id (`eid`), fixed for the event's life, retries included. */
  eid: string;
  /**
   * Settles when the event is as durable as the store makes it: `{ durable: false }` in memory
   * (already settled), `{ durable: true }` once committed (a SQLite billing event is committed
   * before the call returns; a custom event at the end of the tick; a PostgreSQL event at its
   * write-behind flush). Rejects with a `StorageError` when the event could not be stored (it is
   * then also counted and logged, never dropped silently). A caller who needs the guarantee awaits
   * it; one who does not pays nothing, and an unawaited rejection never crashes the process.
   */
  committed: Promise<CommitOutcome>;
}

/** What tracking a billing event returns. */
export interface BillingTrackResult extends TrackResult {
  /** The billable_usage `event_id` (also sent as `se_la`). */
  eventId: string;
  /**
   * Only with `whenNotCommitted: 'hold'`: why a durable store could not commit the event, which
   * is held in memory and written again before the next send (see `EnqueueOptions`).
   */
  notCommitted?: SnowplowError;
}

/** What `Tracker.inTransaction(tx)` returns: the track methods, each writing through `tx`. */
export interface TransactionalTracker {
  /** As `Tracker.trackEvent`, written in the transaction; resolves once the row is written there. */
  trackEvent(name: string, props?: Record<string, unknown> | null): Promise<TrackResult>;
  /** As `Tracker.trackBillingEvent`, written in the transaction. */
  trackBillingEvent(required: BillingEventRequiredInput): Promise<BillingTrackResult>;
  /** As `Tracker.trackBillingEventWithOptionalInput`, written in the transaction. */
  trackBillingEventWithOptionalInput(
    required: BillingEventRequiredInput,
    optional: BillingEventOptionalInput | undefined,
  ): Promise<BillingTrackResult>;
}

/** The row is written in the caller's transaction: as durable as its COMMIT makes it. */
const WRITTEN: CommitOutcome = { durable: true };

function optionalText(name: string, value: unknown, fallback: string): string {
  if (value === undefined) return fallback;
  if (typeof value !== 'string') throw new InvalidOptionError(name, 'must be a string');
  return value;
}

/**
 * Builds Snowplow events and hands them to the emitter. Every method validates its input
 * synchronously and throws a typed error naming the offending field; nothing is queued then.
 *
 * @example
 * ```ts
 * const tracker = new Tracker({ appId: 'worker', emitter });
 * tracker.trackEvent('job_done', { ms: 1200 });
 * const { eventId } = tracker.trackBillingEventWithOptionalInput(
 *   { category: 'ci', eventType: 'ci_minutes', realm: 'SaaS', unitOfMeasure: 'minute', quantity: 12.5 },
 *   { projectId: 42 },
 * );
 * ```
 */
export class Tracker {
  private readonly sink: EventSink;
  private readonly writer: PayloadWriter;
  private readonly defaultCorrelationId: CorrelationIdSource | undefined;

  constructor(options: TrackerOptions) {
    if (options === null || typeof options !== 'object') throw new InvalidOptionError('options', 'must be an object');
    const { appId, emitter } = options;
    if (typeof appId !== 'string' || appId.trim() === '') {
      throw new InvalidOptionError('appId', 'must be a non-empty string');
    }
    if (!emitter || typeof emitter.enqueue !== 'function') {
      throw new InvalidOptionError('emitter', 'is required (an Emitter or an object with enqueue)');
    }
    if (options.defaultCorrelationId !== undefined && typeof options.defaultCorrelationId !== 'function') {
      throw new InvalidOptionError('defaultCorrelationId', 'must be a function');
    }
    this.sink = emitter;
    this.defaultCorrelationId = options.defaultCorrelationId;
    this.writer = new PayloadWriter({
      appId,
      namespace: optionalText('namespace', options.namespace, DEFAULT_NAMESPACE),
      userAgent: optionalText('userAgent', options.userAgent, DEFAULT_USER_AGENT),
      trackerVersion: TRACKER_VERSION,
    });
  }

  /**
   * A self-describing `com.gitlab/custom_event` with the given name and (optionally nested) props.
   * `undefined` or `null` props send no `props` key (labkit's nil props). Props must be a plain
   * object whose JSON text is an object; that text is what is sent.
   */
  trackEvent(name: string, props?: Record<string, unknown> | null): TrackResult {
    return this.emit(customEvent(this.writer, flat(randomUUID()), Date.now(), name, props));
  }

  /** A billing event of the required fields only; see `trackBillingEventWithOptionalInput`. */
  trackBillingEvent(required: BillingEventRequiredInput): BillingTrackResult {
    return this.trackBillingEventWithOptionalInput(required, undefined);
  }

  /**
   * A structured event carrying one `com.gitlab/billable_usage` context entity. Without a
   * `correlationId` of its own, it gets the one `defaultCorrelationId` gives, if any. With a
   * durable store the event is committed when this returns, or it throws a `StorageError`;
   * `options.whenNotCommitted: 'hold'` holds it in memory instead (see `EnqueueOptions`).
   */
  trackBillingEventWithOptionalInput(
    required: BillingEventRequiredInput,
    optional: BillingEventOptionalInput | undefined,
    options?: Pick<EnqueueOptions, 'whenNotCommitted'>,
  ): BillingTrackResult {
    const { payload, eventId, droppedCorrelationId } = this.buildBilling(required, optional);
    let notCommitted: SnowplowError | undefined;
    const committed = commitOf(
      options?.whenNotCommitted === 'hold'
        ? this.sink.enqueue(payload, { whenNotCommitted: 'hold', onHeld: (error) => (notCommitted = error) })
        : this.sink.enqueue(payload),
    );
    // Counted only once the event was accepted (queued, or held in memory).
    if (droppedCorrelationId !== undefined) this.sink.correlationIdDropped?.(payload.eid, droppedCorrelationId);
    return notCommitted
      ? { eid: payload.eid, eventId, committed, notCommitted }
      : { eid: payload.eid, eventId, committed };
  }

  /**
   * Tracks through the caller's open transaction: the returned methods write each event as a row
   * of the PostgreSQL outbox inside `tx`, and resolve with the usual result once it is written
   * there. The relays see it when `tx` commits; a rollback leaves no event. `committed` is then
   * already resolved (`{ durable: true }`): the row is as durable as the caller's COMMIT makes it.
   * `tx` is a `pg` client inside `BEGIN`, a TypeORM `EntityManager` or `QueryRunner`, a Knex
   * transaction, or `(sql, params) => Promise` for any other client (see `SqlExecutor`). Needs the
   * `Emitter` with `storage: { type: 'postgres', ... }`; otherwise each call rejects with
   * `InvalidOptionError`. Bad input rejects as the synchronous methods throw.
   *
   * @example
   * ```ts
   * await client.query('BEGIN');
   * await client.query('INSERT INTO charges ...', [...]);
   * const { eventId } = await tracker.inTransaction(client).trackBillingEvent(input);
   * await client.query('COMMIT');
   * ```
   */
  inTransaction(tx: TransactionLike): TransactionalTracker {
    const exec = sqlExecutor(tx);
    const write = async (payload: TrackedPayload): Promise<void> => {
      if (!this.sink.enqueueInTransaction)
        throw new InvalidOptionError('emitter', 'inTransaction needs an Emitter with the PostgreSQL store');
      await this.sink.enqueueInTransaction(payload, exec);
    };
    const billing = async (
      required: BillingEventRequiredInput,
      optional?: BillingEventOptionalInput,
    ): Promise<BillingTrackResult> => {
      const { payload, eventId, droppedCorrelationId } = this.buildBilling(required, optional);
      await write(payload);
      if (droppedCorrelationId !== undefined) this.sink.correlationIdDropped?.(payload.eid, droppedCorrelationId);
      return { eid: payload.eid, eventId, committed: Promise.resolve(WRITTEN) };
    };
    return {
      trackEvent: async (name, props) => {
        const payload = customEvent(this.writer, flat(randomUUID()), Date.now(), name, props);
        await write(payload);
        return { eid: payload.eid, committed: Promise.resolve(WRITTEN) };
      },
      trackBillingEvent: (required) => billing(required),
      trackBillingEventWithOptionalInput: (required, optional) => billing(required, optional),
    };
  }

  /** A billing event's payload, without its correlation id when that would make it too large for the sink. */
  private buildBilling(
    required: BillingEventRequiredInput,
    optional: BillingEventOptionalInput | undefined,
  ): { payload: TrackedPayload; eventId: string; droppedCorrelationId?: number } {
    const dtm = Date.now();
    const eventId = randomUUID();
    const eid = randomUUID();
    const billing = buildBillingEvent(required, optional, eventId, dtm, this.defaultCorrelationId);
    let payload = this.billingPayload(billing, eventId, eid, dtm);
    let droppedCorrelationId: number | undefined;
    const maxEventBytes = this.sink.maxEventBytes;
    if (billing.correlationIdLength !== undefined && maxEventBytes !== undefined) {
      // A correlation id never makes a bill fail: past the sink's limit, the event goes without it.
      payload = { ...payload, bytes: bodyBytes(payload.json) };
      if ((payload.bytes as number) > maxEventBytes) {
        const without = buildBillingEvent(required, optional, eventId, dtm, undefined, true);
        const smaller = this.billingPayload(without, eventId, eid, dtm);
        const bytes = bodyBytes(smaller.json);
        if (bytes <= maxEventBytes) {
          payload = { ...smaller, bytes };
          droppedCorrelationId = billing.correlationIdLength;
        }
      }
    }
    return { payload, eventId, droppedCorrelationId };
  }

  /** The structured event carrying `billing`'s context. */
  private billingPayload(billing: BillingEventFields, eventId: string, eid: string, dtm: number): TrackedPayload {
    const fields = serialiseFields([
      ['se_ca', billing.category],
      ['se_ac', billing.eventType],
      ['se_la', eventId],
      ['se_va', String(billing.quantity)],
      ['cx', billing.cx],
    ]);
    return this.writer.write('billing', 'se', eid, dtm, fields);
  }

  /**
   * Asks the emitter to send what is queued now (labkit's `Tracker.Flush()`): the `Emitter` wakes
   * its send loop, skipping `lingerMs` and cutting a backoff short (not a `Retry-After`). Returns at
   * once, without waiting for delivery (`Emitter.drain()` waits). Does nothing if the sink has no
   * `flush`.
   */
  flush(): void {
    this.sink.flush?.();
  }

  /**
   * Stops the emitter (labkit's `Tracker.Stop()`); from then on every track method throws
   * `EmitterStoppedError`. With the `Emitter`, requests in flight are aborted; what is still queued
   * stays in a durable outbox for the next start, and in memory is counted as dropped at shutdown
   * and dead-lettered, so call `Emitter.drain()` first to deliver it. Resolves at once if the sink
   * has no `stop`.
   */
  async stop(): Promise<void> {
    await this.sink.stop?.();
  }

  private emit(payload: TrackedPayload): TrackResult {
    return { eid: payload.eid, committed: commitOf(this.sink.enqueue(payload)) };
  }
}
