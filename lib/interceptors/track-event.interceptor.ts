import { ExecutionContext, Injectable, Type } from '@nestjs/common';
import { InvalidEventError } from '../errors';
import { TrackerService } from '../module/tracker.service';
import { describeType, isPlainObject } from '../utils';
import { HandlerTrackingInterceptor, interceptorFor } from './handler-tracking.interceptor';
import { getTrackEventMetadata, TrackEventContext, TrackEventMetadata } from './track-event.metadata';

/** The calls a TrackEventInterceptor (of any module) already handled. */
const handledCalls = new WeakSet<ExecutionContext>();

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
    super(handledCalls, tracker.name);
  }

  /** The plan of `handler` on `controller` (resolved once per handler), or `undefined` when it is not decorated. */
  protected resolvePlan(handler: object, controller: object): TrackEventPlan | undefined {
    const metadata = getTrackEventMetadata(handler, controller);
    // Only a props function sees the context and the duration: without one, neither is built.
    return metadata && { ...metadata, dynamic: typeof metadata.props === 'function' };
  }

  /** Tracks one call; `ctx` is given when the plan reads it. Never throws. */
  protected track(plan: TrackEventPlan, ctx: TrackEventContext | undefined): void {
    try {
      this.tracker.trackEvent(plan.name, ctx ? resolveProps(plan, ctx) : (plan.props as Record<string, unknown>));
    } catch (err) {
      // recordTrackError never throws.
      this.tracker.recordTrackError(err, 'interceptor', 'custom');
    }
  }
}

function resolveProps(metadata: TrackEventMetadata, ctx: TrackEventContext): Record<string, unknown> | undefined {
  if (typeof metadata.props !== 'function') return metadata.props;
  const props: unknown = metadata.props(ctx);
  if (props === undefined || isPlainObject(props)) return props;
  throw new InvalidEventError(
    'props',
    `the props function of @TrackEvent('${metadata.name}') on ${metadata.where} returned ${describeType(props)}; ` +
      'it must return a plain object or undefined',
  );
}
