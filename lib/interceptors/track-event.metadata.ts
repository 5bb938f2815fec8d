import { ExecutionContext } from '@nestjs/common';
import { InvalidOptionError } from '../errors';
import type { AnySchemas, DataOf, SchemaOf } from '../tracker/schema-catalogue';
import { describeType, isPlainObject } from '../utils';
import { eventNameProblem, igluUri, jsonObjectText, serialiseJsonObject } from '../validation';
import { checkDecoratorOptions, checkOn, TRACK_EVENT_ON_VALUES } from './handler-options';
import {
  asOptionError,
  HANDLER_TRACK_OPTION_KEYS,
  HandlerTrackOptions,
  ResolvedHandlerTrackOptions,
  resolveHandlerTrackOptions,
} from './handler-track-options';

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

/**
 * The data of a self-describing `@TrackEvent`: the data itself (checked when the class is
 * defined), or a function of the call's context returning it. A function returning `undefined` or
 * `null` means no event for this call (no error, nothing counted).
 */
export type TrackEventData<TData = Record<string, unknown>, TContext = TrackEventContext> =
  TData | ((ctx: TContext) => TData | null | undefined);

/**
 * The self-describing form of `@TrackEvent`'s first argument: any event of your own Iglu schema,
 * `{ schema, data }`, with `data` static or a function of the call's context (see
 * {@link TrackEventData}). With a schema catalogue `S` (see `createTrackDecorators`) it is a union
 * over the catalogue, discriminated by `schema`: the compiler checks `data` (or what its function
 * returns) against the type of the schema named, as `trackSelfDescribingEvent` does.
 */
export type TrackEventSelfDescribing<TContext = TrackEventContext, S extends object = AnySchemas> = {
  [K in SchemaOf<S>]: {
    /** The Iglu URI of the event's schema, e.g. `iglu:com.acme/job_rated/jsonschema/1-0-0`. */
    schema: K;
    /** The event's data, or a function of the call's context returning it. */
    data: TrackEventData<DataOf<S, K>, TContext>;
  };
}[SchemaOf<S>];

/** `@TrackEvent` options tracking successful calls (the default). */
export interface TrackEventSuccessOptions<
  TRequest = any,
  TResult = any,
  S extends object = AnySchemas,
> extends HandlerTrackOptions<TrackEventSuccessContext<TRequest, TResult>, S> {
  /** Track calls that succeed (the default). */
  on?: 'success';
  /**
   * The `custom_event`'s props (with an event name only): static, or a function of the success
   * context; see {@link TrackEventProps}.
   */
  props?: TrackEventProps<TrackEventSuccessContext<TRequest, TResult>>;
}

/** `@TrackEvent` options tracking failed calls. */
export interface TrackEventErrorOptions<TRequest = any, S extends object = AnySchemas> extends HandlerTrackOptions<
  TrackEventErrorContext<TRequest>,
  S
> {
  /** Track calls that fail (the error still reaches the client unchanged). */
  on: 'error';
  /**
   * The `custom_event`'s props (with an event name only): static, or a function of the error
   * context; see {@link TrackEventProps}.
   */
  props?: TrackEventProps<TrackEventErrorContext<TRequest>>;
}

/** `@TrackEvent` options tracking every call. */
export interface TrackEventAlwaysOptions<
  TRequest = any,
  TResult = any,
  S extends object = AnySchemas,
> extends HandlerTrackOptions<TrackEventContext<TRequest, TResult>, S> {
  /** Track every call, whatever its outcome. */
  on: 'always';
  /**
   * The `custom_event`'s props (with an event name only): static, or a function of either context
   * (`ctx.outcome` tells which); see {@link TrackEventProps}.
   */
  props?: TrackEventProps<TrackEventContext<TRequest, TResult>>;
}

/**
 * Options of `@TrackEvent`. The context the functions receive (`props`, a self-describing event's
 * `data`, `entities`, `subject`) follows `on`: a success context by default, an error context with
 * `on: 'error'`, either with `on: 'always'`.
 */
export type TrackEventOptions<TRequest = any, TResult = any, S extends object = AnySchemas> =
  | TrackEventSuccessOptions<TRequest, TResult, S>
  | TrackEventErrorOptions<TRequest, S>
  | TrackEventAlwaysOptions<TRequest, TResult, S>;

/** What both forms of the metadata hold. */
interface TrackEventMetadataBase extends ResolvedHandlerTrackOptions {
  on: TrackEventOn;
  /** `Class.method` or `Class`, for messages. */
  where: string;
}

/** `@TrackEvent(name, options)`: a `com.gitlab/custom_event`. */
export interface CustomEventMetadata extends TrackEventMetadataBase {
  name: string;
  /** A deep copy of static props, the props function, or undefined. */
  props: Record<string, unknown> | ((ctx: TrackEventContext) => Record<string, unknown> | undefined) | undefined;
  schema?: undefined;
  data?: undefined;
}

/** `@TrackEvent({ schema, data }, options)`: a self-describing event of the user's schema. */
export interface SelfDescribingEventMetadata extends TrackEventMetadataBase {
  schema: string;
  /** A deep copy of static data, or the data function. */
  data: Record<string, unknown> | ((ctx: TrackEventContext) => unknown);
  name?: undefined;
  props?: undefined;
}

/** The validated form stored as metadata and read by `TrackEventInterceptor`. */
export type TrackEventMetadata = CustomEventMetadata | SelfDescribingEventMetadata;

const OPTION_KEYS = ['props', 'on', ...HANDLER_TRACK_OPTION_KEYS];
const EVENT_KEYS = ['schema', 'data'];

/**
 * Checks `@TrackEvent(nameOrEvent, options)` and returns what the interceptor needs. Throws an
 * `InvalidOptionError` naming the argument so that a mistake stops the application at startup.
 */
export function resolveTrackEventOptions(nameOrEvent: unknown, options: unknown, where: string): TrackEventMetadata {
  const at = `@TrackEvent on ${where}`;
  if (typeof nameOrEvent === 'object' && nameOrEvent !== null) {
    const event = resolveEvent(nameOrEvent, at);
    const checked = checkDecoratorOptions(options, OPTION_KEYS, at);
    if (checked.props !== undefined) {
      throw new InvalidOptionError(
        'options.props',
        `${at}: props belong to an event name's custom_event; a self-describing event has its data`,
      );
    }
    return { ...event, on: checkOn(checked.on, at), ...resolveHandlerTrackOptions(checked, at), where };
  }
  // The tracker's rule and wording; here a mistake is an option error, thrown at startup.
  const nameProblem = eventNameProblem(nameOrEvent);
  if (nameProblem !== undefined) throw new InvalidOptionError('name', `${at}: ${nameProblem}`);
  const name = nameOrEvent as string; // eventNameProblem accepts strings only
  const checked = checkDecoratorOptions(options, OPTION_KEYS, at);
  return {
    name,
    on: checkOn(checked.on, at),
    props: resolveProps(checked.props, at),
    ...resolveHandlerTrackOptions(checked, at),
    where,
  };
}

/** The self-describing event: a known Iglu URI, and data that is a function or a JSON object (copied). */
function resolveEvent(value: object, at: string): Pick<SelfDescribingEventMetadata, 'schema' | 'data'> {
  if (!isPlainObject(value)) {
    throw new InvalidOptionError(
      'event',
      `${at}: must be an event name or a self-describing event {schema, data}, got ${describeType(value)}`,
    );
  }
  for (const key of Object.keys(value)) {
    if (!EVENT_KEYS.includes(key)) {
      throw new InvalidOptionError(`event.${key}`, `${at}: not a field of a self-describing event (schema, data)`);
    }
  }
  const schema = asOptionError(at, () => igluUri('event.schema', value.schema));
  const { data } = value;
  if (typeof data === 'function') return { schema, data: data as SelfDescribingEventMetadata['data'] };
  if (data === undefined || data === null) {
    throw new InvalidOptionError('event.data', `${at}: is required: a plain object, or a function of the call`);
  }
  const json = asOptionError(at, () => jsonObjectText('event.data', data));
  // A copy: what is declared is what is sent, even if the caller mutates its object later.
  return { schema, data: JSON.parse(json) as Record<string, unknown> };
}

function resolveProps(props: unknown, at: string): CustomEventMetadata['props'] {
  if (props === undefined || typeof props === 'function') return props as CustomEventMetadata['props'];
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
