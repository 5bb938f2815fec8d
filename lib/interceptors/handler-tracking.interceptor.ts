import { CallHandler, ExecutionContext, Inject, Injectable, NestInterceptor, Type } from '@nestjs/common';
import { Observable } from 'rxjs';
import { serviceToken } from '../module/snowplow.providers';
import { DEFAULT_TRACKER_NAME } from '../module/snowplow.tokens';
import { handlerContext, onFirstOutcome, Outcome } from './handler-context';
import type { TrackEventContext, TrackEventOn } from './track-event.metadata';

/** What a decorator resolved for one handler, once: when to track and whether a context is needed. */
export interface HandlerPlan {
  on: TrackEventOn;
  /** True when a function of the decorator reads the call's context (and its duration). */
  dynamic: boolean;
  /** The `SnowplowModule` instance whose interceptor sends it. */
  tracker: string;
}

/**
 * The part of `TrackEventInterceptor` and `TrackBillingEventInterceptor` they share: the plan of
 * each handler, resolved from its metadata at its first call and kept; one event per call even
 * when bound on both the method and the class (the first interceptor instance to see an
 * `ExecutionContext` handles it and marks it with its kind's symbol; Nest passes the same one to
 * every interceptor of a call); the
 * outcome filter; the context, built only when a function reads it. Each instance of the module has
 * its own interceptor class (see {@link interceptorFor}); a call is handled only by the interceptor
 * of the instance its decorator names, even when a class's decorator names another one.
 */
export abstract class HandlerTrackingInterceptor<TPlan extends HandlerPlan> implements NestInterceptor {
  /** Plans by controller class, then handler (a subclass may resolve an inherited handler differently). */
  private readonly plans = new WeakMap<object, Map<object, TPlan | null>>();

  /**
   * @param handledMark one symbol per kind of interceptor, shared by all its instances: set on the
   *   `ExecutionContext` of each call one of them handles
   * @param trackerName the name of the `SnowplowModule` instance this interceptor sends through
   */
  protected constructor(
    private readonly handledMark: symbol,
    private readonly trackerName: string,
  ) {}

  /** The plan of `handler` on `controller`, or `undefined` when it is not decorated. */
  protected abstract resolvePlan(handler: object, controller: object): TPlan | undefined;

  /** Tracks one call; `ctx` is given when the plan is dynamic. Must not throw. */
  protected abstract track(plan: TPlan, ctx: TrackEventContext | undefined): void;

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const plan = this.planOf(context);
    if (!plan || plan.tracker !== this.trackerName) return next.handle();
    // A mark on the call's own context object, not a WeakSet of contexts: a WeakSet entry per call
    // costs far more (its table grows with every request, and the GC sweeps it).
    const marked = context as ExecutionContext & Record<symbol, boolean | undefined>;
    if (marked[this.handledMark] === true) return next.handle();
    marked[this.handledMark] = true;
    const startedAt = plan.dynamic ? performance.now() : 0;
    return onFirstOutcome(next.handle(), (failed, value) => {
      if (plan.on !== 'always' && failed !== (plan.on === 'error')) return;
      if (!plan.dynamic) {
        this.track(plan, undefined);
        return;
      }
      const outcome: Outcome = failed ? { outcome: 'error', error: value } : { outcome: 'success', result: value };
      this.track(plan, handlerContext(context, performance.now() - startedAt, outcome));
    });
  }

  private planOf(context: ExecutionContext): TPlan | undefined {
    const controller = context.getClass();
    const handler = context.getHandler();
    let byHandler = this.plans.get(controller);
    if (byHandler === undefined) this.plans.set(controller, (byHandler = new Map()));
    let plan = byHandler.get(handler);
    if (plan === undefined) byHandler.set(handler, (plan = this.resolvePlan(handler, controller) ?? null));
    return plan ?? undefined;
  }
}

/**
 * The interceptor class of a handler decorator for the `SnowplowModule` instance `tracker`: `base`
 * itself for the default instance, and for a named one a subclass (made once and kept in `made`)
 * whose `TrackerService` is injected by the instance's token. Nest resolves it in the module of the
 * decorated controller, so a missing instance fails at startup, naming the token.
 */
export function interceptorFor<T extends Type<HandlerTrackingInterceptor<HandlerPlan>>>(
  base: T,
  tracker: string,
  made: Map<string, T>,
): T {
  if (tracker === DEFAULT_TRACKER_NAME) return base;
  let named = made.get(tracker);
  if (named === undefined) {
    named = class extends (base as Type<any>) {} as T;
    Object.defineProperty(named, 'name', { value: `${base.name}[${tracker}]` });
    Inject(serviceToken('tracker', tracker))(named, undefined, 0);
    Injectable()(named);
    made.set(tracker, named);
  }
  return named;
}
