import { Injectable, Logger } from '@nestjs/common';
import { InvalidEventError, InvalidOptionError } from '../errors';
import type { BillingEventOptionalInput, BillingEventRequiredInput } from '../tracker/billing-event';
import type { EventKind } from '../tracker/payload';
import type { PageView } from '../tracker/page-view-event';
import type { AnySchemas, SchemaOf, SelfDescribingEventOf } from '../tracker/schema-catalogue';
import type { StructEvent } from '../tracker/struct-event';
import type { TrackOptions } from '../tracker/track-options';
import { BillingTrackResult, Tracker, TrackResult, TransactionTracker } from '../tracker/tracker';
import type { TransactionLike } from '../tracker/transaction';
import { isPlainObject } from '../utils';
import { serialiseJsonObject } from '../validation';
import type { SnowplowRequestContext } from './request-context';
import type { ModuleParts } from './snowplow-module-options';
import type { TrackErrorSink } from './track-error-sink';

const LOG_INTERVAL_MS = 10_000;

/**
 * Tracks Snowplow events from a Nest app: inject it and call `trackEvent` or `trackBillingEvent*`.
 * Each call validates its input synchronously (a typed error names the field), queues the event
 * and returns its ids; it never waits for the network.
 *
 * Inside a request (see `SnowplowRequestContext`), a billing event without a `correlationId` gets
 * the request's, and custom events get the module's `enrich` props under their own.
 *
 * @example
 * ```ts
 * @Injectable()
 * export class UsageService {
 *   constructor(private readonly tracker: TrackerService) {}
 *
 *   finish(projectId: number, minutes: number) {
 *     this.tracker.trackEvent('pipeline_finished', { projectId, minutes });
 *     return this.tracker.trackBillingEventWithOptionalInput(
 *       { category: 'ci', eventType: 'ci_minutes', realm: 'SaaS', unitOfMeasure: 'minute', quantity: minutes },
 *       { projectId },
 *     ).eventId;
 *   }
 * }
 * ```
 */
@Injectable()
export class TrackerService<S extends object = AnySchemas> {
  /** The name of this tracker's `SnowplowModule` instance: `'default'` for the unnamed one. */
  readonly name: string;
  private readonly logger: Logger;
  private lastLogAt = 0;
  private suppressed = 0;
  private readonly enrich: ModuleParts['enrich'];
  /** `enrich`'s checked result per request; `null` when it gave nothing usable. */
  private readonly enrichments = new WeakMap<SnowplowRequestContext, Record<string, unknown> | null>();

  /** Built by `SnowplowModule` for each of its instances: inject it (or `@InjectTracker(name)`), never construct it. */
  constructor(
    private readonly tracker: Tracker<S>,
    private readonly trackErrors: TrackErrorSink,
    parts: Pick<ModuleParts, 'enrich'>,
    private readonly instance: {
      readonly name: string;
      readonly logContext: string;
      readonly requests: { current(): SnowplowRequestContext | undefined };
    },
  ) {
    this.enrich = parts.enrich;
    this.name = instance.name;
    this.logger = new Logger(instance.logContext);
  }

  /**
   * A self-describing `com.gitlab/custom_event` with the given name and (optionally nested) props;
   * `null` or `undefined` props send none. Inside a request, the module's `enrich` props are
   * merged under them. `options`: entities, subject and timestamps (see `TrackOptions`).
   */
  trackEvent(name: string, props?: Record<string, unknown> | null, options?: TrackOptions<S>): TrackResult {
    if (this.enrich !== undefined) {
      const context = this.instance.requests.current();
      if (context !== undefined) props = this.enriched(context, props);
    }
    return this.tracker.trackEvent(name, props, options);
  }

  /**
   * Any self-describing event of your own Iglu schema (see `Tracker.trackSelfDescribingEvent`).
   * Inject `TrackerService<SnowplowSchemas>` to have the compiler check it against your schema
   * catalogue (see `SelfDescribingOf`).
   */
  trackSelfDescribingEvent<K extends SchemaOf<S>>(
    event: SelfDescribingEventOf<S, K>,
    options?: TrackOptions<S>,
  ): TrackResult {
    return this.tracker.trackSelfDescribingEvent(event, options);
  }

  /** A Snowplow structured event (see `Tracker.trackStructEvent`); never a billing event. */
  trackStructEvent(event: StructEvent, options?: TrackOptions<S>): TrackResult {
    return this.tracker.trackStructEvent(event, options);
  }

  /** A page view, for server-rendered pages and redirects (see `Tracker.trackPageView`). */
  trackPageView(pageView: PageView, options?: TrackOptions<S>): TrackResult {
    return this.tracker.trackPageView(pageView, options);
  }

  /**
   * A billing event (structured event with a `com.gitlab/billable_usage` entity) of the required
   * fields; inside a request it carries the request's correlation id.
   */
  trackBillingEvent(required: BillingEventRequiredInput): BillingTrackResult {
    return this.tracker.trackBillingEvent(required);
  }

  /**
   * A billing event with optional billable_usage fields; unset, empty and zero ones are left out.
   * Without a `correlationId` of its own, it gets the current request's, if there is one.
   * `options.entities` follow the billable_usage entity.
   */
  trackBillingEventWithOptionalInput(
    required: BillingEventRequiredInput,
    optional: BillingEventOptionalInput | undefined,
    options?: TrackOptions<S>,
  ): BillingTrackResult {
    return this.tracker.trackBillingEventWithOptionalInput(required, optional, options);
  }

  /**
   * The track methods, writing each event through `tx`, your open transaction (the PostgreSQL
   * store only): the event exists if and only if `tx` commits. See `Tracker.inTransaction`.
   * Inside a request, billing events carry the request's correlation id and custom events get the
   * module's `enrich` props, as with the other methods.
   *
   * @example
   * ```ts
   * await this.dataSource.transaction(async (manager) => {
   *   await manager.insert(Charge, { customer, cents });
   *   await this.tracker.inTransaction(manager).trackBillingEvent(usage);
   * });
   * ```
   */
  inTransaction(tx: TransactionLike): TransactionTracker<S> {
    const inTx = this.tracker.inTransaction(tx);
    return {
      ...inTx,
      trackEvent: (name, props, options) => {
        if (this.enrich !== undefined) {
          const context = this.instance.requests.current();
          if (context !== undefined) props = this.enriched(context, props);
        }
        return inTx.trackEvent(name, props, options);
      },
    };
  }

  /**
   * A billing event tracked on the side of a handler call that has already answered (the
   * `@TrackBillingEvent` interceptor): there is nobody to tell when the durable outbox cannot
   * commit it, so it is never refused for that. It is held in memory and written again before the
   * next send (dead-lettered at shutdown if it never is), its whole payload is logged at error
   * level, and the failure is counted in `snowplow_track_errors_total{source="interceptor",kind="billing"}`
   * as well as `snowplow_storage_errors_total{op="commit"}`. Invalid input still throws. `where`
   * names the handler for the log.
   *
   * `options` gives the decorator's entities and subject. The bill comes first: when `options`
   * throws, or the tracker refuses what it gave (an entity without data, a subject field out of
   * range, an entity off its schema in strict mode), the bill is sent without them, the failure is
   * warned about (every time) and counted in `snowplow_track_errors_total{source="entities",kind="billing"}`.
   */
  trackBillingEventFromHandler(
    required: BillingEventRequiredInput,
    optional: BillingEventOptionalInput | undefined,
    where: string,
    options?: () => TrackOptions<S> | undefined,
  ): BillingTrackResult {
    const track = (given: TrackOptions<S> | undefined) =>
      this.tracker.trackBillingEventWithOptionalInput(required, optional, { ...given, whenNotCommitted: 'hold' });
    let result: BillingTrackResult;
    let leftOut: unknown;
    let given: TrackOptions<S> | undefined;
    try {
      given = options?.();
    } catch (err) {
      leftOut = err;
    }
    if (given === undefined) {
      result = track(undefined);
    } else {
      try {
        result = track(given);
      } catch (err) {
        // Only a refusal of the event's fields can be about the options; the bill alone decides then.
        if (!(err instanceof InvalidEventError)) throw err;
        result = track(undefined);
        leftOut = err;
      }
    }
    if (leftOut !== undefined) this.reportLeftOut(where, leftOut, result.eid);
    if (result.notCommitted) {
      const { name, message } = result.notCommitted;
      this.recordTrackError(
        `@TrackBillingEvent on ${where}: ${name}: ${message}; event ${result.eid} is held in memory and sent later`,
        'interceptor',
        'billing',
      );
    }
    return result;
  }

  /** A bill sent without its decorator's entities and subject: counted and warned about. Never throws. */
  private reportLeftOut(where: string, error: unknown, eid: string): void {
    try {
      this.trackErrors.trackError('entities', 'billing');
      const why = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
      this.logger.warn(
        `@TrackBillingEvent on ${where}: its entities or subject failed (${why}); the bill ${eid} was sent without ` +
          'them. Every such bill is counted in track_errors_total{source="entities",kind="billing"}',
      );
    } catch {
      // Reporting must never fail a track call.
    }
  }

  /**
   * The correlation id of the request this code runs for (from `correlationIdHeaders`), or
   * `undefined` outside a request or when the request carries none.
   */
  correlationId(): string | undefined {
    return this.instance.requests.current()?.correlationId;
  }

  /** Asks the emitter to send what is queued now (labkit's `Tracker.Flush()`). Returns at once. */
  flush(): void {
    this.tracker.flush();
  }

  /**
   * For tracking done on the side (the decorators' interceptors, `enrich`): counts the failure in
   * `snowplow_track_errors_total{source,kind}` and logs it. A billing event that was not sent is
   * logged at error level every time ("billing event not sent" now; one held in memory is sent
   * later); other failures are warned about at most once per 10 s.
   * Never throws.
   */
  recordTrackError(error: unknown, source: string, kind: EventKind = 'custom'): void {
    try {
      this.trackErrors.trackError(source, kind);
      const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
      if (kind === 'billing') {
        this.logger.error(`billing event not sent (${source}): ${message}`);
        return;
      }
      const now = Date.now();
      if (now - this.lastLogAt < LOG_INTERVAL_MS) {
        this.suppressed++;
        return;
      }
      const more = this.suppressed ? ` (${this.suppressed} more since the last report)` : '';
      this.lastLogAt = now;
      this.suppressed = 0;
      this.logger.warn(`tracking failed in ${source}: ${message}${more}`);
    } catch {
      // Reporting a tracking failure must never become a failure of its own.
    }
  }

  /** `props` with the request's enrichment under them; unchanged when there is none or they are no plain object. */
  private enriched(
    context: SnowplowRequestContext,
    props: Record<string, unknown> | null | undefined,
  ): Record<string, unknown> | null | undefined {
    let extra = this.enrichments.get(context);
    if (extra === undefined) {
      extra = this.runEnrich(context);
      this.enrichments.set(context, extra);
    }
    if (extra === null) return props;
    if (props === undefined || props === null) return extra;
    // Anything else is the tracker's to refuse, with its own message.
    return isPlainObject(props) ? { ...extra, ...props } : props;
  }

  /** `enrich`'s result as a plain copy of its JSON, or `null` (counted and logged when it failed). */
  private runEnrich(context: SnowplowRequestContext): Record<string, unknown> | null {
    try {
      const result = serialiseJsonObject((this.enrich as NonNullable<ModuleParts['enrich']>)(context));
      if ('error' in result) throw new InvalidOptionError('enrich', `the result ${result.error}`);
      return result.json === '{}' ? null : (JSON.parse(result.json) as Record<string, unknown>);
    } catch (err) {
      this.recordTrackError(err, 'enrich', 'custom');
      return null;
    }
  }
}
