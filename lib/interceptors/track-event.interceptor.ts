import { Injectable, Type } from '@nestjs/common';
import { InvalidEventError } from '../errors';
import { TrackerService } from '../module/tracker.service';
import { describeType, isPlainObject } from '../utils';
import { HandlerTrackingInterceptor, interceptorFor } from './handler-tracking.interceptor';
import { handlerTrackOptions, readsContext } from './handler-track-options';
import {
  CustomEventMetadata,
  getTrackEventMetadata,
  TrackEventContext,
  TrackEventMetadata,
} from './track-event.metadata';

/** Set on the `ExecutionContext` of each call a TrackEventInterceptor (of any module) handles. */
const handledMark = Symbol('nestjs-snowplow:TrackEventInterceptor');

type TrackEventPlan = TrackEventMetadata & { dynamic: boolean };

/** The interceptor classes of named instances, made once each. */
const named = new Map<string, Type<TrackEventInterceptor>>();

/** The `@TrackEvent` interceptor class of the `SnowplowModule` instance `tracker`. */
export function trackEventInterceptorFor(tracker: string): Type<TrackEventInterceptor> {
  return interceptorFor(TrackEventInterceptor, tracker, named);
}

/**
 * Sends the `@TrackEvent` event of a handler call. Bound by `@TrackEvent` itself; a handler without
 * `@TrackEvent` metadata passes through untouched. Tracking never changes what the handler
 * returns or throws: any failure goes to `TrackerService.recordTrackError(err, 'interceptor')`.
 */
@Injectable()
export class TrackEventInterceptor extends HandlerTrackingInterceptor<TrackEventPlan> {
  constructor(private readonly tracker: TrackerService) {
    super(handledMark, tracker.name);
  }

  /** The plan of `handler` on `controller` (resolved once per handler), or `undefined` when it is not decorated. */
  protected resolvePlan(handler: object, controller: object): TrackEventPlan | undefined {
    const metadata = getTrackEventMetadata(handler, controller);
    if (!metadata) return undefined;
    // Only a function sees the context and the duration: without one, neither is built.
    const own = metadata.schema === undefined ? metadata.props : metadata.data;
    return { ...metadata, dynamic: typeof own === 'function' || readsContext(metadata) };
  }

  /** Tracks one call; `ctx` is given when the plan reads it. Never throws. */
  protected track(plan: TrackEventPlan, ctx: TrackEventContext | undefined): void {
    try {
      if (plan.schema === undefined) {
        const props = ctx ? resolveProps(plan, ctx) : (plan.props as Record<string, unknown> | undefined);
        this.tracker.trackEvent(plan.name, props, handlerTrackOptions(plan, ctx));
        return;
      }
      const data = typeof plan.data === 'function' ? plan.data(ctx as TrackEventContext) : plan.data;
      // null or undefined: no event for this call.
      if (data === undefined || data === null) return;
      this.tracker.trackSelfDescribingEvent(
        { schema: plan.schema, data: data as Record<string, unknown> },
        handlerTrackOptions(plan, ctx),
      );
    } catch (err) {
      const reason = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
      // recordTrackError never throws.
      this.tracker.recordTrackError(`@TrackEvent on ${plan.where}: ${reason}`, 'interceptor', 'custom');
    }
  }
}

function resolveProps(metadata: CustomEventMetadata, ctx: TrackEventContext): Record<string, unknown> | undefined {
  if (typeof metadata.props !== 'function') return metadata.props;
  const props: unknown = metadata.props(ctx);
  if (props === undefined || isPlainObject(props)) return props;
  throw new InvalidEventError(
    'props',
    `the props function returned ${describeType(props)}; it must return a plain object or undefined`,
  );
}
