import { ExecutionContext } from '@nestjs/common';
import { InvalidOptionError } from '../errors';
import { eventNameProblem, serialiseJsonObject } from '../validation';
import {
  checkDecoratorOptions,
  checkOn,
  checkTrackerOption,
  TRACK_EVENT_ON_VALUES,
  TrackerChoice,
} from './handler-options';

export { TRACK_EVENT_ON_VALUES };

/** Reflect-metadata key under which `@TrackEvent` stores its resolved options (on the method or the class). */
export const TRACK_EVENT_METADATA = 'nestjs-snowplow:track-event';

/** Which outcomes of a handler call produce an event. */
export type TrackEventOn = 'success' | 'error' | 'always';

/** What every context of a handler call has, whatever its outcome. */
export interface TrackEventContextBase<TRequest> {
  /**
   * The arguments Nest passes to the handler (`ExecutionContext.getArgs()`): `[req, res, next]` for
   * HTTP, `[data, context]` for microservices, `[client, data]` for WebSocket gateways; for a
   * GraphQL resolver, its GraphQL arguments (an object).
   */
  args: any;
  /**
   * The HTTP request for an HTTP handler, and for a GraphQL resolver the request of its GraphQL
   * context (`req`, or `request` on Fastify); `undefined` for microservice and WebSocket handlers.
   */
  request: TRequest | undefined;
  /** The GraphQL resolve info of a resolver; `undefined` elsewhere. */
  info?: any;
  /** Nest's execution context of the call. */
  executionContext: ExecutionContext;
  /** Milliseconds from the interceptor's start to the handler's first value, completion or error. */
  durationMs: number;
}

/** What a `props` function is given for a call that succeeded. */
export type TrackEventSuccessContext<TRequest = any, TResult = any> = TrackEventContextBase<TRequest> & {
  outcome: 'success';
  /** The handler's first value (`undefined` when it completed without one). */
  result: TResult;
  error?: undefined;
};

/** What a `props` function is given for a call that failed. */
export type TrackEventErrorContext<TRequest = any> = TrackEventContextBase<TRequest> & {
  outcome: 'error';
  /** What the handler threw (it still reaches the client unchanged). */
  error: unknown;
  result?: undefined;
};

/** What a `props` function of `@TrackEvent` is given; `outcome` tells which case it is. */
export type TrackEventContext<TRequest = any, TResult = any> =
  TrackEventSuccessContext<TRequest, TResult> | TrackEventErrorContext<TRequest>;

/** Static props, or a function building them from the call (returning `undefined` sends no props). */
export type TrackEventProps<TContext = TrackEventContext> =
  Record<string, unknown> | ((ctx: TContext) => Record<string, unknown> | undefined);

/** `@TrackEvent` options tracking successful calls (the default). */
export interface TrackEventSuccessOptions<TRequest = any, TResult = any> extends TrackerChoice {
  /** Track calls that succeed (the default). */
  on?: 'success';
  /** Static props, or a function of the success context; see {@link TrackEventProps}. */
  props?: TrackEventProps<TrackEventSuccessContext<TRequest, TResult>>;
}

/** `@TrackEvent` options tracking failed calls. */
export interface TrackEventErrorOptions<TRequest = any> extends TrackerChoice {
  /** Track calls that fail (the error still reaches the client unchanged). */
  on: 'error';
  /** Static props, or a function of the error context; see {@link TrackEventProps}. */
  props?: TrackEventProps<TrackEventErrorContext<TRequest>>;
}

/** `@TrackEvent` options tracking every call. */
export interface TrackEventAlwaysOptions<TRequest = any, TResult = any> extends TrackerChoice {
  /** Track every call, whatever its outcome. */
  on: 'always';
  /** Static props, or a function of either context (`ctx.outcome` tells which); see {@link TrackEventProps}. */
  props?: TrackEventProps<TrackEventContext<TRequest, TResult>>;
}

/**
 * Options of `@TrackEvent`. The context a `props` function receives follows `on`: a success
 * context by default, an error context with `on: 'error'`, either with `on: 'always'`.
 */
export type TrackEventOptions<TRequest = any, TResult = any> =
  | TrackEventSuccessOptions<TRequest, TResult>
  | TrackEventErrorOptions<TRequest>
  | TrackEventAlwaysOptions<TRequest, TResult>;

/** The validated form stored as metadata and read by `TrackEventInterceptor`. */
export interface TrackEventMetadata {
  name: string;
  on: TrackEventOn;
  /** A deep copy of static props, the props function, or undefined. */
  props: Record<string, unknown> | ((ctx: TrackEventContext) => Record<string, unknown> | undefined) | undefined;
  /** The name of the `SnowplowModule` instance that sends it (`'default'` when unset). */
  tracker: string;
  /** `Class.method` or `Class`, for messages. */
  where: string;
}

const OPTION_KEYS = ['props', 'on', 'tracker'];

/**
 * Checks `@TrackEvent(name, options)` and returns what the interceptor needs. Throws an
 * `InvalidOptionError` naming the argument so that a mistake stops the application at startup.
 */
export function resolveTrackEventOptions(name: unknown, options: unknown, where: string): TrackEventMetadata {
  const at = `@TrackEvent on ${where}`;
  // The tracker's rule and wording; here a mistake is an option error, thrown at startup.
  const nameProblem = eventNameProblem(name);
  if (nameProblem !== undefined) throw new InvalidOptionError('name', `${at}: ${nameProblem}`);
  const eventName = name as string; // eventNameProblem accepts strings only
  const checked = checkDecoratorOptions(options, OPTION_KEYS, at);
  return {
    name: eventName,
    on: checkOn(checked.on, at),
    props: resolveProps(checked.props, at),
    tracker: checkTrackerOption(checked.tracker, at),
    where,
  };
}

function resolveProps(props: unknown, at: string): TrackEventMetadata['props'] {
  if (props === undefined || typeof props === 'function') return props as TrackEventMetadata['props'];
  // The tracker's props rule (a plain object whose JSON text is an object), as an option error.
  const result = serialiseJsonObject(props, 'a plain object or a function');
  if ('error' in result) throw new InvalidOptionError('options.props', `${at}: ${result.error}`);
  // A copy: what is declared is what is sent, even if the caller mutates its object later.
  return JSON.parse(result.json) as Record<string, unknown>;
}

/** The `@TrackEvent` options that apply to a handler: its own, else its class's (inherited ones included). */
export function getTrackEventMetadata(handler: object, controller: object): TrackEventMetadata | undefined {
  return (
    (Reflect.getOwnMetadata(TRACK_EVENT_METADATA, handler) as TrackEventMetadata | undefined) ??
    (Reflect.getMetadata(TRACK_EVENT_METADATA, controller) as TrackEventMetadata | undefined)
  );
}
