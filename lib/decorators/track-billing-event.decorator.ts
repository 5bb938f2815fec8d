import { trackBillingEventInterceptorFor } from '../interceptors/track-billing-event.interceptor';
import {
  resolveTrackBillingEventOptions,
  TRACK_BILLING_EVENT_METADATA,
  TrackBillingEventAlwaysOptions,
  TrackBillingEventErrorOptions,
  TrackBillingEventInput,
  TrackBillingEventOptions,
  TrackBillingEventSuccessOptions,
} from '../interceptors/track-billing-event.metadata';
import type {
  TrackEventContext,
  TrackEventErrorContext,
  TrackEventSuccessContext,
} from '../interceptors/track-event.metadata';
import type { AnySchemas } from '../tracker/schema-catalogue';
import { handlerDecorator } from './handler-decorator';

/**
 * The type of `@TrackBillingEvent`, for a schema catalogue `S`: `TrackBillingEvent` itself is
 * `TrackBillingEventDecorator<AnySchemas>`; `createTrackDecorators<S>()` gives the one whose
 * `entities` the compiler checks against `S`. The signatures differ by `on`, which sets the
 * context the functions receive.
 */
export interface TrackBillingEventDecorator<S extends object = AnySchemas> {
  /**
   * `@TrackBillingEvent(input, options?)`: bills calls that succeed (the default `on`); the
   * functions get a `TrackEventSuccessContext`. See {@link TrackBillingEvent}.
   */
  <TRequest = any, TResult = any>(
    input: TrackBillingEventInput<TrackEventSuccessContext<TRequest, TResult>>,
    options?: TrackBillingEventSuccessOptions<TRequest, TResult, S>,
  ): ClassDecorator & MethodDecorator;
  /** `@TrackBillingEvent(input, { on: 'error', ... })`: bills calls that fail. */
  <TRequest = any>(
    input: TrackBillingEventInput<TrackEventErrorContext<TRequest>>,
    options: TrackBillingEventErrorOptions<TRequest, S>,
  ): ClassDecorator & MethodDecorator;
  /** `@TrackBillingEvent(input, { on: 'always', ... })`: bills every call. */
  <TRequest = any, TResult = any>(
    input: TrackBillingEventInput<TrackEventContext<TRequest, TResult>>,
    options: TrackBillingEventAlwaysOptions<TRequest, TResult, S>,
  ): ClassDecorator & MethodDecorator;
  /** `@TrackBillingEvent(input, options)` with options whose `on` is only known at run time. */
  <TRequest = any, TResult = any>(
    input: TrackBillingEventInput<TrackEventContext<TRequest, TResult>>,
    options?: TrackBillingEventOptions<TRequest, TResult, S>,
  ): ClassDecorator & MethodDecorator;
}

/**
 * Sends a billing event (a structured event with a `com.gitlab/billable_usage` entity) for every
 * call of the decorated handler: on a method, that handler; on a class, each of its handlers (a
 * handler's own wins over its class's). `input` gives the required fields: an object, or a
 * function of the call's context (the one `@TrackEvent` functions get: `args`, `request`,
 * `result` or `error`, `durationMs`, `executionContext`, and `info` for GraphQL), typically to
 * take the quantity from the handler's result. A function returning `null` or `undefined` means
 * nothing to bill for this call. `options.optional` gives the optional fields the same way;
 * `options.on` is `'success'` (default), `'error'` or `'always'`; `options.entities` and
 * `options.subject` (see `HandlerTrackOptions`) go with the event, after its `billable_usage`
 * entity.
 *
 * The event is tracked through `TrackerService` after the handler's first value or error, so
 * inside a request it carries the request's correlation id unless `optional` sets one. It never
 * changes what the client receives: an input (or entities, or subject) that throws or fails
 * validation is logged at error level (naming the handler and the field) and counted in
 * `snowplow_track_errors_total{source="interceptor",kind="billing"}`, and the call succeeds; no
 * bill is sent for that call. Arguments that can be checked now are: a mistake throws
 * `InvalidOptionError` at startup. `@TrackEvent` may decorate the same handler; each sends its
 * own event.
 *
 * @example
 * ```ts
 * @Controller('completions')
 * export class CompletionsController {
 *   @Post()
 *   @TrackBillingEvent<Request, Completion>(
 *     ({ result }) => ({
 *       category: 'duo',
 *       eventType: 'code_suggestions',
 *       realm: 'SaaS',
 *       unitOfMeasure: 'token',
 *       quantity: result.tokens,
 *     }),
 *     { optional: ({ request }) => ({ globalUserId: request?.user.id }) },
 *   )
 *   complete(@Body() body: CompletionRequest): Promise<Completion> {
 *     return this.completions.complete(body);
 *   }
 * }
 * ```
 */
export const TrackBillingEvent: TrackBillingEventDecorator = function TrackBillingEvent(
  input: unknown,
  options?: unknown,
): ClassDecorator & MethodDecorator {
  return handlerDecorator(
    '@TrackBillingEvent',
    TRACK_BILLING_EVENT_METADATA,
    trackBillingEventInterceptorFor,
    (where) => resolveTrackBillingEventOptions(input, options, where),
  );
};
