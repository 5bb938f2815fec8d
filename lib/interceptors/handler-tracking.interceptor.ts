import { CallHandler, ExecutionContext, NestInterceptor } from '@nestjs/common';
import { Observable } from 'rxjs';
import { handlerContext, onFirstOutcome } from './handler-context';
import type { TrackEventContext, TrackEventOn } from './track-event.metadata';

/** What a decorator resolved for one handler, once: when to track and whether a context is needed. */
export interface HandlerPlan {
  on: TrackEventOn;
  /** True when a function of the decorator reads the call's context (and its duration). */
  dynamic: boolean;
}

/**
 * The part of `TrackEventInterceptor` and `TrackBillingEventInterceptor` they share: the plan of
 * each handler, resolved from its metadata at its first call and kept; one event per call even
 * when bound on both the method and the class (the first interceptor instance to see an
 * `ExecutionContext` handles it; Nest passes the same one to every interceptor of a call); the
 * outcome filter; the context, built only when a function reads it.
 */
export abstract class HandlerTrackingInterceptor<TPlan extends HandlerPlan> implements NestInterceptor {
  /** Plans by controller class, then handler (a subclass may resolve an inherited handler differently). */
  private readonly plans = new WeakMap<object, Map<object, TPlan | null>>();

  /** @param handledCalls one set per kind of interceptor, shared by all its instances */
  protected constructor(private readonly handledCalls: WeakSet<ExecutionContext>) {}

  /** The plan of `handler` on `controller`, or `undefined` when it is not decorated. */
  protected abstract resolvePlan(handler: object, controller: object): TPlan | undefined;

  /** Tracks one call; `ctx` is given when the plan is dynamic. Must not throw. */
  protected abstract track(plan: TPlan, ctx: TrackEventContext | undefined): void;

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const plan = this.planOf(context);
    if (!plan || this.handledCalls.has(context)) return next.handle();
    this.handledCalls.add(context);
    const startedAt = plan.dynamic ? performance.now() : 0;
    return onFirstOutcome(next.handle(), (outcome) => {
      if (plan.on !== 'always' && plan.on !== outcome.outcome) return;
      this.track(plan, plan.dynamic ? handlerContext(context, performance.now() - startedAt, outcome) : undefined);
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
