import { Injectable, Type } from '@nestjs/common';
import { InvalidEventError } from '../errors';
import { TrackerService } from '../module/tracker.service';
import { describeType } from '../utils';
import { HandlerTrackingInterceptor, interceptorFor } from './handler-tracking.interceptor';
import { handlerTrackOptions, readsContext } from './handler-track-options';
import { getTrackBillingEventMetadata, TrackBillingEventMetadata } from './track-billing-event.metadata';
import type { TrackEventContext } from './track-event.metadata';

/** Set on the `ExecutionContext` of each call a TrackBillingEventInterceptor (of any module) handles. */
const handledMark = Symbol('nestjs-snowplow:TrackBillingEventInterceptor');

type TrackBillingEventPlan = TrackBillingEventMetadata & { dynamic: boolean };

/** The interceptor classes of named instances, made once each. */
const named = new Map<string, Type<TrackBillingEventInterceptor>>();

/** The `@TrackBillingEvent` interceptor class of the `SnowplowModule` instance `tracker`. */
export function trackBillingEventInterceptorFor(tracker: string): Type<TrackBillingEventInterceptor> {
  return interceptorFor(TrackBillingEventInterceptor, tracker, named);
}

/**
 * Sends the `@TrackBillingEvent` billing event of a handler call, through `TrackerService` (so it
 * carries the request's correlation id unless it sets its own). Bound by `@TrackBillingEvent`
 * itself. It never changes what the handler returns or throws: an input that cannot be built or
 * fails validation is counted in `snowplow_track_errors_total{source="interceptor",kind="billing"}`
 * and logged at error level with the handler and the field, every time. A bill the durable outbox
 * cannot commit (no caller to tell) is never lost: it is held in memory and sent later, its
 * payload logged at error level, and counted the same way (see `TrackerService.trackBillingEventFromHandler`).
 */
@Injectable()
export class TrackBillingEventInterceptor extends HandlerTrackingInterceptor<TrackBillingEventPlan> {
  constructor(private readonly tracker: TrackerService) {
    super(handledMark, tracker.name);
  }

  /** The plan of `handler` on `controller` (resolved once per handler), or `undefined` when it is not decorated. */
  protected resolvePlan(handler: object, controller: object): TrackBillingEventPlan | undefined {
    const metadata = getTrackBillingEventMetadata(handler, controller);
    if (!metadata) return undefined;
    const dynamic =
      typeof metadata.input === 'function' || typeof metadata.optional === 'function' || readsContext(metadata);
    return { ...metadata, dynamic };
  }

  /** Tracks one call; `ctx` is given when the plan reads it. Never throws. */
  protected track(plan: TrackBillingEventPlan, ctx: TrackEventContext | undefined): void {
    try {
      const required = typeof plan.input === 'function' ? plan.input(ctx as TrackEventContext) : plan.input;
      // null or undefined: nothing to bill for this call.
      if (required === null || required === undefined) return;
      checkReturned('input', required, 'a BillingEventRequiredInput, null or undefined');
      const optional = typeof plan.optional === 'function' ? plan.optional(ctx as TrackEventContext) : plan.optional;
      if (optional !== null && optional !== undefined) {
        checkReturned('optional', optional, 'a BillingEventOptionalInput, null or undefined');
      }
      // The bill first: entities and subject that fail are left out of it (see trackBillingEventFromHandler).
      this.tracker.trackBillingEventFromHandler(required, optional ?? undefined, plan.where, () =>
        handlerTrackOptions(plan, ctx),
      );
    } catch (err) {
      const reason = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
      // recordTrackError never throws.
      this.tracker.recordTrackError(`@TrackBillingEvent on ${plan.where}: ${reason}`, 'interceptor', 'billing');
    }
  }
}

/** What a function of the decorator returned must be an object (not an array). */
function checkReturned(field: 'input' | 'optional', value: unknown, expected: string): void {
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw new InvalidEventError(
      field,
      `the ${field} function returned ${describeType(value)}; it must return ${expected}`,
    );
  }
}
