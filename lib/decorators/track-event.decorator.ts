import { UseInterceptors } from '@nestjs/common';
import { INTERCEPTORS_METADATA } from '@nestjs/common/constants';
import { InvalidOptionError } from '../errors';
import { TrackEventInterceptor } from '../interceptors/track-event.interceptor';
import {
  resolveTrackEventOptions,
  TRACK_EVENT_METADATA,
  TrackEventAlwaysOptions,
  TrackEventErrorOptions,
  TrackEventOptions,
  TrackEventSuccessOptions,
} from '../interceptors/track-event.metadata';

function isBound(target: object): boolean {
  const interceptors = Reflect.getMetadata(INTERCEPTORS_METADATA, target) as unknown[] | undefined;
  return Array.isArray(interceptors) && interceptors.includes(TrackEventInterceptor);
}

function describeKey(key: string | symbol): string {
  return typeof key === 'symbol' ? `[${key.description ?? 'symbol'}]` : key;
}

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
  return ((target: object, key?: string | symbol, descriptor?: PropertyDescriptor) => {
    if (key === undefined) {
      if (typeof target !== 'function') {
        throw new InvalidOptionError('target', '@TrackEvent can only decorate a class or a method');
      }
      const where = target.name || 'anonymous class';
      if (Reflect.hasOwnMetadata(TRACK_EVENT_METADATA, target)) {
        throw new InvalidOptionError('target', `@TrackEvent is applied more than once to ${where}`);
      }
      Reflect.defineMetadata(TRACK_EVENT_METADATA, resolveTrackEventOptions(name, options, where), target);
      // A subclass inherits its parent's interceptors: bind once along the chain.
      if (!isBound(target)) UseInterceptors(TrackEventInterceptor)(target);
      return target;
    }
    const className = (typeof target === 'function' ? target.name : target.constructor?.name) || 'anonymous class';
    const where = `${className}.${describeKey(key)}`;
    if (!descriptor || typeof descriptor.value !== 'function') {
      throw new InvalidOptionError('target', `@TrackEvent can only decorate a class or a method, not ${where}`);
    }
    const handler = descriptor.value as object;
    if (Reflect.hasOwnMetadata(TRACK_EVENT_METADATA, handler)) {
      throw new InvalidOptionError('target', `@TrackEvent is applied more than once to ${where}`);
    }
    Reflect.defineMetadata(TRACK_EVENT_METADATA, resolveTrackEventOptions(name, options, where), handler);
    if (!isBound(handler)) UseInterceptors(TrackEventInterceptor)(target, key, descriptor);
    return descriptor;
  }) as ClassDecorator & MethodDecorator;
}
