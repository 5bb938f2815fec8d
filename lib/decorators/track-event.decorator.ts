import { trackEventInterceptorFor } from '../interceptors/track-event.interceptor';
import {
  resolveTrackEventOptions,
  TRACK_EVENT_METADATA,
  TrackEventAlwaysOptions,
  TrackEventErrorOptions,
  TrackEventOptions,
  TrackEventSuccessOptions,
} from '../interceptors/track-event.metadata';
import { handlerDecorator } from './handler-decorator';

/**
 * Sends a `com.gitlab/custom_event` named `name` for every call of the decorated handler: on a
 * method, that handler; on a class, each of its handlers (a handler's own `@TrackEvent` wins over
 * its class's, and each call sends at most one event). Works for HTTP controllers, microservice
 * handlers and WebSocket gateways; the interceptor is bound by the decorator itself.
 *
 * The event is built after the handler's first value (or completion without one) or its error,
 * and only queued: the response waits for no I/O and never fails because of tracking (a failure
 * goes to `TrackerService.recordTrackError`). The arguments are checked here, at class definition
 * time; a mistake throws an `InvalidOptionError`.
 *
 * The module that declares the controller must see `TrackerService` (import `SnowplowModule`, or
 * register it with `isGlobal: true`); otherwise Nest fails at startup naming `TrackerService`.
 */
export function TrackEvent<TRequest = any, TResult = any>(
  name: string,
  options?: TrackEventSuccessOptions<TRequest, TResult>,
): ClassDecorator & MethodDecorator;
/** `@TrackEvent(name, { on: 'error', props? })`: tracks calls that fail; see the first signature. */
export function TrackEvent<TRequest = any>(
  name: string,
  options: TrackEventErrorOptions<TRequest>,
): ClassDecorator & MethodDecorator;
/** `@TrackEvent(name, { on: 'always', props? })`: tracks every call; see the first signature. */
export function TrackEvent<TRequest = any, TResult = any>(
  name: string,
  options: TrackEventAlwaysOptions<TRequest, TResult>,
): ClassDecorator & MethodDecorator;
/** `@TrackEvent(name, options)` with options whose `on` is only known at run time; see the first signature. */
export function TrackEvent<TRequest = any, TResult = any>(
  name: string,
  options?: TrackEventOptions<TRequest, TResult>,
): ClassDecorator & MethodDecorator;
export function TrackEvent(name: string, options?: TrackEventOptions): ClassDecorator & MethodDecorator {
  return handlerDecorator('@TrackEvent', TRACK_EVENT_METADATA, trackEventInterceptorFor, (where) =>
    resolveTrackEventOptions(name, options, where),
  );
}
