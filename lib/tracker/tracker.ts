import { EventTooLargeError, InvalidEventError, InvalidOptionError, SnowplowError } from '../errors';
import { TRACKER_VERSION } from '../version';
import {
  BillingEventFields,
  BillingEventOptionalInput,
  BillingEventRequiredInput,
  billingEvent,
  buildBillingEvent,
  CorrelationIdSource,
} from './billing-event';
import { customEvent, customEventData } from './custom-event';
import { eventId as newEventId } from './event-id';
import { EventAdditions, EventData, EventLane, EventPayload, toPayload, withEntities } from './event';
import {
  defaultEntityErrorLog,
  EntityEventView,
  GlobalEntities,
  GlobalEntity,
  GlobalEntityFailure,
} from './global-entities';
import { PageView, pageViewData } from './page-view-event';
import {
  bodyBytes,
  CommitOutcome,
  EnqueueOptions,
  EventSink,
  commitOf,
  PayloadWriter,
  TrackedPayload,
  withBytes,
} from './payload';
import type { TransactionLike } from './transaction';
import type { AnySchemas, SchemaOf, SelfDescribingEventOf } from './schema-catalogue';
import { selfDescribingData } from './self-describing-event';
import { StructEvent, structData } from './struct-event';
import { checkSubject, mergeSubjects, Subject, SubjectFields } from './subject';
import { schemaValidator, SchemaValidator, ValidateOptions } from './schema-validation';
import { checkTrackOptions, NO_ADDITIONS, TrackOptions } from './track-options';

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
  /**
   * Subject fields sent with every event of this tracker (`p` defaults to `srv`); an event's
   * `options.subject` wins field by field. A subject `ua` replaces `userAgent` on the wire.
   */
  subject?: Subject;
  /**
   * Subject fields of the context a track call runs in, called at track time: the Nest module
   * passes the current request's (its `subject` option). They win over `subject` and lose to the
   * event's `options.subject`, field by field. Checked like `options.subject` (errors name
   * `contextSubject.<field>`).
   */
  contextSubject?: () => Subject | undefined;
  /**
   * Strict mode, for development and tests (off by default, and meant to stay off in production):
   * `{ schemas: './iglu' }` checks every event's self-describing data and entities against the
   * local Iglu schemas (and the ones the library ships) at track time, with ajv, and throws a
   * `SchemaValidationError` naming the JSON path instead of queueing a wrong event.
   */
  validate?: ValidateOptions;
  /**
   * Global entities: attached (`cx`) to every event they apply to, after the event's own
   * `options.entities` (and, for billing, after `billable_usage`). Each entry is a static entity,
   * a generator `(event) => entity | entity[] | undefined` called at track time, or
   * `{ entity, accept?, reject?, filter? }` (see `ConditionalEntity`). Checked here: an
   * `InvalidOptionError` names the entry, e.g. `entities[2].accept[0]`. A generator or filter that
   * throws, or a generated entity that is invalid, never fails the track call: the event is sent
   * without it and the failure goes to `onEntityError`.
   */
  entities?: readonly GlobalEntity[];
  /**
   * Told of every global entity left out of an event (see `entities`). Must not throw. Default: a
   * console warning at most once per 10 s. The Nest module counts them in
   * `snowplow_track_errors_total{source="entities"}` and logs them.
   */
  onEntityError?: (failure: GlobalEntityFailure) => void;
}

/**
 * Options of `trackBillingEventWithOptionalInput`: those of every track method, and what to do
 * when a durable store cannot commit the event.
 */
export interface BillingTrackOptions<S extends object = AnySchemas>
  extends TrackOptions<S>, Pick<EnqueueOptions, 'whenNotCommitted'> {}

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

/** The track methods of `Tracker.inTransaction(tx)`: each resolves once the event's row is written in `tx`. */
export type TransactionTracker<S extends object = AnySchemas> = {
  [
    K in
      'trackEvent' | 'trackBillingEvent' | 'trackBillingEventWithOptionalInput' | 'trackStructEvent' | 'trackPageView'
  ]: (...args: Parameters<Tracker<S>[K]>) => Promise<ReturnType<Tracker<S>[K]>>;
} & {
  /** See `Tracker.trackSelfDescribingEvent`. */
  trackSelfDescribingEvent<K extends SchemaOf<S>>(
    event: SelfDescribingEventOf<S, K>,
    options?: TrackOptions<S>,
  ): Promise<TrackResult>;
};

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
export class Tracker<S extends object = AnySchemas> {
  private readonly sink: EventSink;
  private readonly writer: PayloadWriter;
  private readonly defaultCorrelationId: CorrelationIdSource | undefined;
  private readonly subject: SubjectFields | undefined;
  private readonly contextSubject: (() => Subject | undefined) | undefined;
  /** Strict mode's checker (the `validate` option); `undefined` when off. */
  private readonly validator: SchemaValidator | undefined;
  /** The `entities` option, or `undefined` when it has none. */
  private readonly globals: GlobalEntities | undefined;
  private readonly onEntityError: (failure: GlobalEntityFailure) => void;
  /**
   * No subject of any kind, no global entities and no strict mode: an event tracked without
   * options is what its type alone makes it.
   */
  private readonly plain: boolean;

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
    this.subject = trackerSubject(options.subject);
    if (options.contextSubject !== undefined && typeof options.contextSubject !== 'function') {
      throw new InvalidOptionError('contextSubject', 'must be a function');
    }
    this.contextSubject = options.contextSubject;
    this.validator = schemaValidator(options.validate);
    this.globals = GlobalEntities.of(options.entities);
    if (options.onEntityError !== undefined && typeof options.onEntityError !== 'function') {
      throw new InvalidOptionError('onEntityError', 'must be a function');
    }
    this.onEntityError = options.onEntityError ?? defaultEntityErrorLog();
    this.plain =
      this.subject === undefined &&
      this.contextSubject === undefined &&
      this.validator === undefined &&
      this.globals === undefined;
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
   * object whose JSON text is an object; that text is what is sent. `options`: see `TrackOptions`.
   */
  trackEvent(name: string, props?: Record<string, unknown> | null, options?: TrackOptions<S>): TrackResult {
    // Without options or a tracker subject, the queued event writes its payload only when sent.
    if (options === undefined && this.plain) {
      return this.emit(customEvent(this.writer, newEventId(), Date.now(), name, props));
    }
    const data = customEventData(name, props);
    return this.emitEvent('custom', data, checkTrackOptions(options, this.baseSubject()));
  }

  /**
   * Any self-describing event: `schema` is its Iglu URI (`iglu:vendor/name/jsonschema/1-0-0`) and
   * `data` a plain object whose JSON text is an object. Sent as `ue_px`, in the custom lane. With a
   * schema catalogue (`new Tracker<SnowplowSchemas>(...)`, see `SelfDescribingOf`), the compiler
   * checks `data` against the type of the schema named, and refuses a schema outside it.
   *
   * @example
   * ```ts
   * tracker.trackSelfDescribingEvent(
   *   { schema: 'iglu:com.acme/checkout/jsonschema/1-0-0', data: { orderId: 'o-1', total: 42.5 } },
   *   { entities: [{ schema: 'iglu:com.acme/cart/jsonschema/1-0-0', data: { items: 3 } }], subject: { uid: 'u-7' } },
   * );
   * ```
   */
  trackSelfDescribingEvent<K extends SchemaOf<S>>(
    event: SelfDescribingEventOf<S, K>,
    options?: TrackOptions<S>,
  ): TrackResult {
    return this.emitEvent('custom', selfDescribingData(event), checkTrackOptions(options, this.baseSubject()));
  }

  /** A Snowplow structured event (`e=se`), in the custom lane (never billed, whatever it holds). */
  trackStructEvent(event: StructEvent, options?: TrackOptions<S>): TrackResult {
    return this.emitEvent('custom', structData(event), checkTrackOptions(options, this.baseSubject()));
  }

  /** A page view (`e=pv`): for server-rendered pages and redirects. */
  trackPageView(pageView: PageView, options?: TrackOptions<S>): TrackResult {
    return this.emitEvent('custom', pageViewData(pageView), checkTrackOptions(options, this.baseSubject()));
  }

  /** A billing event of the required fields only; see `trackBillingEventWithOptionalInput`. */
  trackBillingEvent(required: BillingEventRequiredInput): BillingTrackResult {
    return this.trackBillingEventWithOptionalInput(required, undefined);
  }

  /**
   * A structured event carrying one `com.gitlab/billable_usage` context entity (first, before any
   * `options.entities`). Without a `correlationId` of its own, it gets the one
   * `defaultCorrelationId` gives, if any. With a durable store the event is committed when this
   * returns, or it throws a `StorageError`; `options.whenNotCommitted: 'hold'` holds it in memory
   * instead (see `EnqueueOptions`). The entity's `timestamp` is the track time, whatever
   * `options.deviceTimestamp` or `options.trueTimestamp` say.
   */
  trackBillingEventWithOptionalInput(
    required: BillingEventRequiredInput,
    optional: BillingEventOptionalInput | undefined,
    options?: BillingTrackOptions<S>,
  ): BillingTrackResult {
    let additions = checkTrackOptions(options, this.baseSubject(), ['whenNotCommitted']) ?? NO_ADDITIONS;
    const whenNotCommitted = options?.whenNotCommitted;
    if (whenNotCommitted !== undefined && whenNotCommitted !== 'throw' && whenNotCommitted !== 'hold') {
      throw new InvalidEventError('options.whenNotCommitted', "must be 'throw' or 'hold'");
    }
    const dtm = Date.now();
    const eventId = newEventId();
    const eid = newEventId();
    const billing = buildBillingEvent(required, optional, eventId, dtm, this.defaultCorrelationId);
    let payload: TrackedPayload;
    if (this.globals === undefined) {
      payload = this.billingPayload(billing, eventId, eid, dtm, additions);
    } else {
      const view = new EntityEventView(
        'billing',
        eid,
        { type: 'se', category: billing.category, action: billing.eventType },
        billing.entity,
      );
      const own = additions;
      additions = this.withGlobals(own, view);
      payload = this.billingPayload(billing, eventId, eid, dtm, additions);
      if (additions !== own && this.tooLargeWithGlobals(payload, 'billing')) {
        additions = own;
        payload = this.billingPayload(billing, eventId, eid, dtm, own);
      }
    }
    let droppedCorrelationId: number | undefined;
    const maxEventBytes = this.sink.maxEventBytes;
    if (billing.correlationIdLength !== undefined && maxEventBytes !== undefined) {
      // A correlation id never makes a bill fail: past the sink's limit, the event goes without it.
      payload = withBytes(payload, bodyBytes(payload.json));
      if ((payload.bytes as number) > maxEventBytes) {
        const without = buildBillingEvent(required, optional, eventId, dtm, undefined, true);
        const smaller = this.billingPayload(without, eventId, eid, dtm, additions);
        const bytes = bodyBytes(smaller.json);
        if (bytes <= maxEventBytes) {
          payload = withBytes(smaller, bytes);
          droppedCorrelationId = billing.correlationIdLength;
        }
      }
    }
    let notCommitted: SnowplowError | undefined;
    const committed = commitOf(
      whenNotCommitted === 'hold'
        ? this.sink.enqueue(payload, { whenNotCommitted: 'hold', onHeld: (error) => (notCommitted = error) })
        : this.sink.enqueue(payload),
    );
    // Counted only once the event was accepted (queued, or held in memory).
    if (droppedCorrelationId !== undefined) this.sink.correlationIdDropped?.(payload.eid, droppedCorrelationId);
    return notCommitted
      ? { eid: payload.eid, eventId, committed, notCommitted }
      : { eid: payload.eid, eventId, committed };
  }

  /** The billing event's wire form (see `billingEvent`). */
  private billingPayload(
    billing: BillingEventFields,
    eventId: string,
    eid: string,
    dtm: number,
    additions: EventAdditions,
  ): TrackedPayload {
    const event = billingEvent(billing, eventId, eid, dtm, additions);
    if (this.validator !== undefined) this.validator.check(event);
    return toPayload(this.writer, event);
  }

  /**
   * The track methods, writing each event through `tx`, the caller's open transaction (the
   * PostgreSQL store only): the event becomes visible to the relays when `tx` commits, and a
   * rollback leaves no event. Each method resolves with the usual result once the row is written
   * in `tx`, and rejects with the typed error a track call throws (invalid input, a stopped
   * emitter) or a `StorageError` whose `cause` is what the statement threw. `tx` is a `pg` client
   * inside `BEGIN`, a TypeORM `EntityManager` or `QueryRunner`, a Knex transaction, or a function
   * `(sql, params) => Promise` for any other client (see `TransactionLike`).
   *
   * @example
   * ```ts
   * await dataSource.transaction(async (manager) => {
   *   await manager.insert(Charge, { customer, cents });
   *   await tracker.inTransaction(manager).trackBillingEvent(usage);
   * });
   * ```
   */
  inTransaction(tx: TransactionLike): TransactionTracker<S> {
    if (typeof this.sink.inTransaction !== 'function') {
      throw new InvalidOptionError('emitter', 'cannot write in a transaction: inTransaction needs the Emitter');
    }
    // The same tracker (options, subject, correlation), writing into the transaction's sink.
    const inTx = Object.create(this) as Tracker<S>;
    (inTx as unknown as { sink: EventSink }).sink = this.sink.inTransaction(tx);
    const written = async <R extends TrackResult>(track: () => R): Promise<R> => {
      const result = track();
      await result.committed;
      return result;
    };
    return {
      trackEvent: (...args) => written(() => inTx.trackEvent(...args)),
      trackBillingEvent: (...args) => written(() => inTx.trackBillingEvent(...args)),
      trackBillingEventWithOptionalInput: (...args) => written(() => inTx.trackBillingEventWithOptionalInput(...args)),
      trackSelfDescribingEvent: (event, options) => written(() => inTx.trackSelfDescribingEvent(event, options)),
      trackStructEvent: (...args) => written(() => inTx.trackStructEvent(...args)),
      trackPageView: (...args) => written(() => inTx.trackPageView(...args)),
    };
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

  /** The tracker's subject with the context's over it: what an event's own subject is merged over. */
  private baseSubject(): SubjectFields | undefined {
    if (this.contextSubject === undefined) return this.subject;
    return mergeSubjects(this.subject, checkSubject('contextSubject', this.contextSubject()));
  }

  /**
   * Builds the event of `data` with what the options added, and hands it to the sink. The event
   * holds what was taken now (texts, timestamps) and writes its wire form when read (`EventPayload`).
   */
  private emitEvent(lane: EventLane, data: EventData, additions: EventAdditions | undefined): TrackResult {
    const eid = newEventId();
    const own = additions ?? NO_ADDITIONS;
    if (this.globals === undefined) {
      const event = new EventPayload(this.writer, lane, eid, Date.now(), data, own);
      if (this.validator !== undefined) this.validator.check(event);
      return this.emit(event);
    }
    const added = this.withGlobals(own, new EntityEventView(lane, eid, data));
    let event = new EventPayload(this.writer, lane, eid, Date.now(), data, added);
    if (this.validator !== undefined) this.validator.check(event);
    if (added !== own && this.tooLargeWithGlobals(event, lane)) {
      event = new EventPayload(this.writer, lane, eid, event.trackedAt, data, own);
    }
    return this.emit(event);
  }

  /**
   * Whether `payload`, with global entities, is over the sink's `maxEventBytes`: the event is then
   * sent without them (told to `onEntityError`), so that global entities never make a track call fail.
   */
  private tooLargeWithGlobals(payload: TrackedPayload, lane: EventLane): boolean {
    const max = this.sink.maxEventBytes;
    if (max === undefined) return false;
    const bytes = payload.bytes ?? bodyBytes(payload.json);
    if (bytes <= max) return false;
    this.reportEntityFailure({ path: 'entities', error: new EventTooLargeError(bytes, max), lane });
    return true;
  }

  private reportEntityFailure(failure: GlobalEntityFailure): void {
    try {
      this.onEntityError(failure);
    } catch {
      // Reporting a left-out entity must never fail the track call.
    }
  }

  /** `additions` with the global entities `view` gets after its own (never throws for them). */
  private withGlobals(additions: EventAdditions, view: EntityEventView): EventAdditions {
    const globals = (this.globals as GlobalEntities).collect(view, (failure) => this.reportEntityFailure(failure));
    if (globals.length === 0) return additions;
    return withEntities(additions, additions.entities.length === 0 ? globals : [...additions.entities, ...globals]);
  }
}

/** The tracker's `subject` option checked; errors name `subject.<field>`. */
function trackerSubject(value: unknown): SubjectFields | undefined {
  try {
    return checkSubject('subject', value);
  } catch (err) {
    if (err instanceof InvalidEventError) throw new InvalidOptionError(err.field, err.reason);
    throw err;
  }
}
