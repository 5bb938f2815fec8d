import { InvalidEventError, InvalidOptionError } from '../errors';
import type { AnySchemas, SelfDescribingOf } from '../tracker/schema-catalogue';
import { checkSelfDescribing } from '../tracker/self-describing-event';
import { checkSubject, Subject } from '../tracker/subject';
import type { TrackOptions } from '../tracker/track-options';
import { describeType } from '../utils';
import { checkTrackerOption, TrackerChoice } from './handler-options';
import type { TrackEventContext } from './track-event.metadata';

/**
 * The entities of a decorator's event: a list of self-describing entities `{ schema, data }`, or a
 * function of the call's context returning one (`undefined` or `null`: none for this call). With
 * a schema catalogue `S` (see `createTrackDecorators`), the compiler checks each entity's data
 * against its schema's type.
 */
export type TrackEventEntities<TContext = TrackEventContext, S extends object = AnySchemas> =
  readonly SelfDescribingOf<S>[] | ((ctx: TContext) => readonly SelfDescribingOf<S>[] | null | undefined);

/**
 * The subject of a decorator's event: subject fields (`uid`, `ip`, `ua`...), or a function of the
 * call's context returning them (`undefined` or `null`: none of its own for this call). Each field
 * set wins over the request's (the module's `subject` option) and the tracker's.
 */
export type TrackEventSubject<TContext = TrackEventContext> = Subject | ((ctx: TContext) => Subject | null | undefined);

/**
 * What `@TrackEvent` and `@TrackBillingEvent` attach to each event they send, beside its own
 * fields: the decorators' form of the track methods' `TrackOptions`. Each is static (checked when
 * the class is defined) or a function of the call's context (called after the handler, checked by
 * the tracker then). A function that throws, or gives something the tracker refuses, means no
 * event for that call: the failure is counted and logged like any other of the decorator, and the
 * handler's answer is unchanged.
 */
export interface HandlerTrackOptions<
  TContext = TrackEventContext,
  S extends object = AnySchemas,
> extends TrackerChoice {
  /**
   * Self-describing entities attached to the event (`cx`), in this order; a billing event's
   * `billable_usage` entity stays first. They come before the tracker's global entities.
   */
  entities?: TrackEventEntities<TContext, S>;
  /** Subject fields for this event only; see {@link TrackEventSubject}. */
  subject?: TrackEventSubject<TContext>;
}

/** The option keys of {@link HandlerTrackOptions}, accepted by both decorators. */
export const HANDLER_TRACK_OPTION_KEYS: readonly string[] = ['entities', 'subject', 'tracker'];

/** A function of the call's context, as the metadata keeps it. */
type ContextFunction = (ctx: TrackEventContext) => unknown;

/** {@link HandlerTrackOptions} checked: static values as plain copies, functions as given. */
export interface ResolvedHandlerTrackOptions {
  entities: readonly { schema: string; data: Record<string, unknown> }[] | ContextFunction | undefined;
  subject: Subject | ContextFunction | undefined;
  /** The name of the `SnowplowModule` instance that sends the event (`'default'` when unset). */
  tracker: string;
}

/**
 * `options.entities`, `options.subject` and `options.tracker` of a decorator (`at` names it and the handler), checked
 * now with the tracker's rules: a mistake throws `InvalidOptionError` naming the field, e.g.
 * `options.entities[1].schema` or `options.subject.vid`.
 */
export function resolveHandlerTrackOptions(options: Record<string, unknown>, at: string): ResolvedHandlerTrackOptions {
  return {
    entities: resolveEntities(options.entities, at),
    subject: resolveSubject(options.subject, at),
    tracker: checkTrackerOption(options.tracker, at),
  };
}

function resolveEntities(value: unknown, at: string): ResolvedHandlerTrackOptions['entities'] {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'function') return value as ResolvedHandlerTrackOptions['entities'];
  if (!Array.isArray(value)) {
    throw new InvalidOptionError(
      'options.entities',
      `${at}: must be an array of {schema, data} or a function, got ${describeType(value)}`,
    );
  }
  const entities: { schema: string; data: Record<string, unknown> }[] = [];
  for (let i = 0; i < value.length; i++) {
    const name = `options.entities[${i}]`;
    if (!(i in value)) throw new InvalidOptionError(name, `${at}: is a hole: every entity needs a schema and data`);
    const { schema, json } = asOptionError(at, () => checkSelfDescribing(value[i], name, `${name}.`));
    // A copy of what it serialises to: what is declared is what is sent, even if mutated later.
    entities.push({ schema, data: JSON.parse(json) as Record<string, unknown> });
  }
  return entities;
}

function resolveSubject(value: unknown, at: string): ResolvedHandlerTrackOptions['subject'] {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'function') return value as ResolvedHandlerTrackOptions['subject'];
  asOptionError(at, () => checkSubject('options.subject', value));
  return { ...(value as Subject) };
}

/**
 * The `TrackOptions` of one call: the static values, or what the functions return for `ctx`
 * (given whenever one of them is a function); `undefined` when the decorator has neither, so that
 * the track call takes the tracker's path without options. What a function returns is checked by
 * the tracker; a function that throws throws here.
 */
export function handlerTrackOptions(
  resolved: ResolvedHandlerTrackOptions,
  ctx: TrackEventContext | undefined,
): TrackOptions | undefined {
  const { entities, subject } = resolved;
  if (entities === undefined && subject === undefined) return undefined;
  return {
    entities: (typeof entities === 'function'
      ? entities(ctx as TrackEventContext)
      : entities) as TrackOptions['entities'],
    subject: (typeof subject === 'function' ? subject(ctx as TrackEventContext) : subject) as TrackOptions['subject'],
  };
}

/** True when a function of the options reads the call's context. */
export function readsContext(resolved: ResolvedHandlerTrackOptions): boolean {
  return typeof resolved.entities === 'function' || typeof resolved.subject === 'function';
}

/**
 * `check()`'s result; a tracker rule it breaks (an `InvalidEventError` naming the field) becomes an
 * `InvalidOptionError` naming the same field, with the decorator and handler (`at`) in front.
 */
export function asOptionError<T>(at: string, check: () => T, prefix = ''): T {
  try {
    return check();
  } catch (err) {
    if (!(err instanceof InvalidEventError)) throw err;
    // The tracker's rule and wording, as an option error naming the field inside the argument.
    const reason = err.message.slice(`Invalid event field "${err.field}": `.length);
    throw new InvalidOptionError(`${prefix}${err.field}`, `${at}: ${reason}`);
  }
}
