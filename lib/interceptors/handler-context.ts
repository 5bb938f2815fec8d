import { ExecutionContext } from '@nestjs/common';
import { Observable } from 'rxjs';
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
 * `handled$` unchanged, calling `settle` once: with its first value, its completion without one,
 * or its error (which still reaches the subscriber as the very same object).
 */
export function onFirstOutcome(handled$: Observable<unknown>, settle: (outcome: Outcome) => void): Observable<unknown> {
  let settled = false;
  const once = (outcome: Outcome): void => {
    if (settled) return;
    settled = true;
    settle(outcome);
  };
  // A plain pass-through subscriber rather than an rxjs operator chain: this runs on every call.
  return new Observable((subscriber) =>
    handled$.subscribe({
      next(result) {
        once({ outcome: 'success', result });
        subscriber.next(result);
      },
      complete() {
        once({ outcome: 'success', result: undefined });
        subscriber.complete();
      },
      // The handler's error object reaches the subscriber unchanged.
      error(error: unknown) {
        once({ outcome: 'error', error });
        subscriber.error(error);
      },
    }),
  );
}
