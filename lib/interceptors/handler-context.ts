import { ExecutionContext } from '@nestjs/common';
import { Observable, Observer, Subscriber } from 'rxjs';
import { graphqlRequest } from '../module/correlation-id';
import type { TrackEventContext } from './track-event.metadata';

/** How a handler call ended: its first value (or completion without one), or its error. */
export type Outcome = { outcome: 'success'; result: unknown } | { outcome: 'error'; error: unknown };

/**
 * The context `@TrackEvent` props functions and `@TrackBillingEvent` input functions receive, the
 * one place it is built. For GraphQL resolvers (`getArgs()` is `[root, args, context, info]`),
 * `args` is the resolver's GraphQL arguments, `request` the HTTP request of the GraphQL context
 * and `info` the resolve info; the GraphQL packages are never loaded.
 */
export function handlerContext(
  executionContext: ExecutionContext,
  durationMs: number,
  outcome: Outcome,
): TrackEventContext {
  const args = executionContext.getArgs();
  const type = executionContext.getType<string>();
  const graphql = type === 'graphql';
  return {
    args: graphql ? args[1] : args,
    request: type === 'http' ? args[0] : graphql ? graphqlRequest(args[2]) : undefined,
    info: graphql ? args[3] : undefined,
    executionContext,
    durationMs,
    ...outcome,
  } as TrackEventContext;
}

/**
 * `handled$` unchanged, calling `settle` once: with its first value (`failed` false), its
 * completion without one (`failed` false, `value` undefined), or its error (`failed` true; the
 * error still reaches the subscriber as the very same object).
 */
export function onFirstOutcome(
  handled$: Observable<unknown>,
  settle: (failed: boolean, value: unknown) => void,
): Observable<unknown> {
  return new Observable((subscriber) => handled$.subscribe(new FirstOutcomeObserver(subscriber, settle)));
}

/**
 * A plain pass-through observer rather than an rxjs operator chain or closures: this runs on every
 * call, and one object with its state is the least it can allocate.
 */
class FirstOutcomeObserver implements Observer<unknown> {
  private settled = false;

  constructor(
    private readonly destination: Subscriber<unknown>,
    private readonly settle: (failed: boolean, value: unknown) => void,
  ) {}

  next(result: unknown): void {
    if (!this.settled) {
      this.settled = true;
      this.settle(false, result);
    }
    this.destination.next(result);
  }

  complete(): void {
    if (!this.settled) {
      this.settled = true;
      this.settle(false, undefined);
    }
    this.destination.complete();
  }

  // The handler's error object reaches the subscriber unchanged.
  error(error: unknown): void {
    if (!this.settled) {
      this.settled = true;
      this.settle(true, error);
    }
    this.destination.error(error);
  }
}
