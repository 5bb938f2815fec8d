import { InvalidOptionError } from '../errors';
import {
  BillingEventOptionalInput,
  BillingEventRequiredInput,
  checkOptionalInput,
  checkRequiredInput,
} from '../tracker/billing-event';
import type { AnySchemas } from '../tracker/schema-catalogue';
import { describeType } from '../utils';
import { checkDecoratorOptions, checkOn } from './handler-options';
import {
  asOptionError,
  HANDLER_TRACK_OPTION_KEYS,
  HandlerTrackOptions,
  ResolvedHandlerTrackOptions,
  resolveHandlerTrackOptions,
} from './handler-track-options';
import type {
  TrackEventContext,
  TrackEventErrorContext,
  TrackEventOn,
  TrackEventSuccessContext,
} from './track-event.metadata';

/** Reflect-metadata key under which `@TrackBillingEvent` stores its resolved options (on the method or the class). */
export const TRACK_BILLING_EVENT_METADATA = 'nestjs-snowplow:track-billing-event';

/**
 * The required fields of a `@TrackBillingEvent`: an object, or a function of the call's context
 * returning one, or `null`/`undefined` for "nothing to bill for this call".
 */
export type TrackBillingEventInput<TContext = TrackEventContext> =
  BillingEventRequiredInput | ((ctx: TContext) => BillingEventRequiredInput | null | undefined);

/** The optional billable_usage fields of a `@TrackBillingEvent`: an object, or a function of the call's context. */
export type TrackBillingEventOptional<TContext = TrackEventContext> =
  BillingEventOptionalInput | ((ctx: TContext) => BillingEventOptionalInput | null | undefined);

/** `@TrackBillingEvent` options billing successful calls (the default). */
export interface TrackBillingEventSuccessOptions<
  TRequest = any,
  TResult = any,
  S extends object = AnySchemas,
> extends HandlerTrackOptions<TrackEventSuccessContext<TRequest, TResult>, S> {
  /** Bill calls that succeed (the default). */
  on?: 'success';
  /** Optional billable_usage fields: an object, or a function of the success context. */
  optional?: TrackBillingEventOptional<TrackEventSuccessContext<TRequest, TResult>>;
}

/** `@TrackBillingEvent` options billing failed calls. */
export interface TrackBillingEventErrorOptions<
  TRequest = any,
  S extends object = AnySchemas,
> extends HandlerTrackOptions<TrackEventErrorContext<TRequest>, S> {
  /** Bill calls that fail (the error still reaches the client unchanged). */
  on: 'error';
  /** Optional billable_usage fields: an object, or a function of the error context. */
  optional?: TrackBillingEventOptional<TrackEventErrorContext<TRequest>>;
}

/** `@TrackBillingEvent` options billing every call. */
export interface TrackBillingEventAlwaysOptions<
  TRequest = any,
  TResult = any,
  S extends object = AnySchemas,
> extends HandlerTrackOptions<TrackEventContext<TRequest, TResult>, S> {
  /** Bill every call, whatever its outcome. */
  on: 'always';
  /** Optional billable_usage fields: an object, or a function of either context. */
  optional?: TrackBillingEventOptional<TrackEventContext<TRequest, TResult>>;
}

/**
 * Options of `@TrackBillingEvent`: `on` as for `@TrackEvent`, `optional`, the optional
 * billable_usage fields, and `entities` and `subject` (see `HandlerTrackOptions`; the
 * `billable_usage` entity stays first). The context the functions receive follows `on`.
 */
export type TrackBillingEventOptions<TRequest = any, TResult = any, S extends object = AnySchemas> =
  | TrackBillingEventSuccessOptions<TRequest, TResult, S>
  | TrackBillingEventErrorOptions<TRequest, S>
  | TrackBillingEventAlwaysOptions<TRequest, TResult, S>;

/** The validated form stored as metadata and read by `TrackBillingEventInterceptor`. */
export interface TrackBillingEventMetadata extends ResolvedHandlerTrackOptions {
  /** A checked plain copy of a static input, or the input function. */
  input: TrackBillingEventInput;
  /** A checked plain copy of static optional fields, the function, or undefined. */
  optional: TrackBillingEventOptional | undefined;
  on: TrackEventOn;
  /** The name of the `SnowplowModule` instance that sends it (`'default'` when unset). */
  tracker: string;
  /** `Class.method` or `Class`, for messages. */
  where: string;
}

const OPTION_KEYS = ['optional', 'on', ...HANDLER_TRACK_OPTION_KEYS];

/**
 * Checks `@TrackBillingEvent(input, options)` and returns what the interceptor needs. A static
 * input or optional object is checked with the tracker's billing rules now; a mistake throws an
 * `InvalidOptionError` naming the argument (e.g. `input.quantity`), so it stops the app at startup.
 */
export function resolveTrackBillingEventOptions(
  input: unknown,
  options: unknown,
  where: string,
): TrackBillingEventMetadata {
  const at = `@TrackBillingEvent on ${where}`;
  const checkedInput = staticOrFunction(input, 'input', checkRequiredInput, at);
  const checked = checkDecoratorOptions(options, OPTION_KEYS, at);
  const optional =
    checked.optional === undefined
      ? undefined
      : staticOrFunction(checked.optional, 'options.optional', checkOptionalInput, at);
  return {
    input: checkedInput as TrackBillingEventInput,
    optional: optional as TrackBillingEventOptional | undefined,
    on: checkOn(checked.on, at),
    ...resolveHandlerTrackOptions(checked, at),
    where,
  };
}

/** A function as it is, or an object checked by `check` (which returns its plain copy). */
function staticOrFunction(value: unknown, option: string, check: (value: unknown) => unknown, at: string): unknown {
  if (typeof value === 'function') return value;
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new InvalidOptionError(option, `${at}: must be an object or a function, got ${describeType(value)}`);
  }
  return asOptionError(at, () => check(value), `${option}.`);
}

/** The `@TrackBillingEvent` options that apply to a handler: its own, else its class's (inherited ones included). */
export function getTrackBillingEventMetadata(
  handler: object,
  controller: object,
): TrackBillingEventMetadata | undefined {
  return (
    (Reflect.getOwnMetadata(TRACK_BILLING_EVENT_METADATA, handler) as TrackBillingEventMetadata | undefined) ??
    (Reflect.getMetadata(TRACK_BILLING_EVENT_METADATA, controller) as TrackBillingEventMetadata | undefined)
  );
}
