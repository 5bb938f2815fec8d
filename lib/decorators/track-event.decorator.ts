import { trackEventInterceptorFor } from '../interceptors/track-event.interceptor';
import {
  resolveTrackEventOptions,
  TRACK_EVENT_METADATA,
  TrackEventAlwaysOptions,
  TrackEventContext,
  TrackEventErrorContext,
  TrackEventErrorOptions,
  TrackEventOptions,
  TrackEventSelfDescribing,
  TrackEventSuccessContext,
  TrackEventSuccessOptions,
} from '../interceptors/track-event.metadata';
import type { AnySchemas } from '../tracker/schema-catalogue';
import { handlerDecorator } from './handler-decorator';

/**
 * The type of `@TrackEvent`, for a schema catalogue `S`: `TrackEvent` itself is
 * `TrackEventDecorator<AnySchemas>` (any Iglu URI, any object); `createTrackDecorators<S>()`
 * gives the one whose self-describing events and entities the compiler checks against `S`.
 *
 * Each signature takes an event name (a `com.gitlab/custom_event`) or a self-describing event
 * `{ schema, data }`; they differ by `on`, which sets the context the functions receive.
 */
export interface TrackEventDecorator<S extends object = AnySchemas> {
  /**
   * `@TrackEvent(nameOrEvent, options?)`: tracks calls that succeed (the default `on`); the
   * functions get a `TrackEventSuccessContext` (`result` is `TResult`). See {@link TrackEvent}.
   */
  <TRequest = any, TResult = any>(
    nameOrEvent: string | TrackEventSelfDescribing<TrackEventSuccessContext<TRequest, TResult>, S>,
    options?: TrackEventSuccessOptions<TRequest, TResult, S>,
  ): ClassDecorator & MethodDecorator;
  /**
   * `@TrackEvent(nameOrEvent, { on: 'error', ... })`: tracks calls that fail; the functions get a
   * `TrackEventErrorContext`.
   */
  <TRequest = any>(
    nameOrEvent: string | TrackEventSelfDescribing<TrackEventErrorContext<TRequest>, S>,
    options: TrackEventErrorOptions<TRequest, S>,
  ): ClassDecorator & MethodDecorator;
  /** `@TrackEvent(nameOrEvent, { on: 'always', ... })`: tracks every call; the functions get either context. */
  <TRequest = any, TResult = any>(
    nameOrEvent: string | TrackEventSelfDescribing<TrackEventContext<TRequest, TResult>, S>,
    options: TrackEventAlwaysOptions<TRequest, TResult, S>,
  ): ClassDecorator & MethodDecorator;
  /** `@TrackEvent(nameOrEvent, options)` with options whose `on` is only known at run time. */
  <TRequest = any, TResult = any>(
    nameOrEvent: string | TrackEventSelfDescribing<TrackEventContext<TRequest, TResult>, S>,
    options?: TrackEventOptions<TRequest, TResult, S>,
  ): ClassDecorator & MethodDecorator;
}

/**
 * Sends an event for every call of the decorated handler: on a method, that handler; on a class,
 * each of its handlers (a handler's own `@TrackEvent` wins over its class's, and each call sends
 * at most one event). Works for HTTP controllers, microservice handlers, WebSocket gateways and
 * GraphQL resolvers; the interceptor is bound by the decorator itself.
 *
 * - `@TrackEvent(name, { props })` sends a `com.gitlab/custom_event` named `name` (labkit's shape),
 *   with the module's `enrich` props under its own.
 * - `@TrackEvent({ schema, data })` sends any self-describing event of your own Iglu schema, as
 *   `trackSelfDescribingEvent` does. `data` is an object or a function of the call's context; a
 *   function returning `undefined` or `null` sends no event for that call. Use
 *   `createTrackDecorators<SnowplowSchemas>()` to have the compiler check it against your schema
 *   catalogue.
 *
 * Both take `on` (`'success'`, the default, `'error'` or `'always'`), `entities` and `subject`
 * (see `HandlerTrackOptions`). The event is built after the handler's first value (or completion
 * without one) or its error, and only queued: the response waits for no I/O and never fails
 * because of tracking (a throwing function, a value the tracker refuses or a stopped emitter goes
 * to `TrackerService.recordTrackError`, naming the handler). The arguments are checked here, at
 * class definition time; a mistake throws an `InvalidOptionError` naming the field.
 *
 * The module that declares the controller must see `TrackerService` (import `SnowplowModule`, or
 * register it with `isGlobal: true`); otherwise Nest fails at startup naming `TrackerService`.
 *
 * @example
 * ```ts
 * @Post(':id/rating')
 * @TrackEvent<Request, Rating>(
 *   {
 *     schema: 'iglu:com.acme/job_rated/jsonschema/1-0-0',
 *     data: ({ result }) => ({ jobId: result.jobId, stars: result.stars }),
 *   },
 *   {
 *     entities: ({ request }) => [{ schema: TENANT, data: { tenant: request?.tenant } }],
 *     subject: ({ request }) => ({ uid: request?.user.id }),
 *   },
 * )
 * rate(@Param('id') id: string, @Body() body: RatingInput): Promise<Rating> { ... }
 * ```
 */
export const TrackEvent: TrackEventDecorator = function TrackEvent(
  nameOrEvent: unknown,
  options?: unknown,
): ClassDecorator & MethodDecorator {
  return handlerDecorator('@TrackEvent', TRACK_EVENT_METADATA, trackEventInterceptorFor, (where) =>
    resolveTrackEventOptions(nameOrEvent, options, where),
  );
};
