/**
 * The module's injection tokens. Every part of a `SnowplowModule` instance has a token of its
 * own, per instance name: the unnamed default instance keeps the constant symbols below, a named
 * one (`forRoot({ name: 'analytics' })`) gets symbols of its own from {@link snowplowToken}, so
 * that two instances in one app never see each other's parts, and the testing module can replace
 * the emitter of one of them.
 */

/** The name of the unnamed instance, as metrics, health and messages show it. */
export const DEFAULT_TRACKER_NAME = 'default';

/** The core emitter (a `SnowplowEmitter`) the Nest layer drives; the testing module replaces it. */
export const SNOWPLOW_EMITTER = Symbol('nestjs-snowplow:emitter');

/** The core `Tracker` built over the emitter. */
export const SNOWPLOW_TRACKER = Symbol('nestjs-snowplow:tracker');

/** This module's `EmitterMetrics`, or `undefined` with `metrics: false`. */
export const SNOWPLOW_METRICS = Symbol('nestjs-snowplow:metrics');

/** Where swallowed tracking failures are counted (a `TrackErrorSink`). */
export const SNOWPLOW_TRACK_ERRORS = Symbol('nestjs-snowplow:track-errors');

/** The module's options, checked and split by the part that takes them (`ModuleParts`). */
export const SNOWPLOW_MODULE_PARTS = Symbol('nestjs-snowplow:module-parts');

/** The instance itself: its name, its log context and its request contexts (`SnowplowInstance`). */
export const SNOWPLOW_INSTANCE = Symbol('nestjs-snowplow:instance');

/** Nest's logger context of everything the default instance logs; a named one logs as `Snowplow:<name>`. */
export const SNOWPLOW_LOG_CONTEXT = 'Snowplow';

const DEFAULT_TOKENS = {
  emitter: SNOWPLOW_EMITTER,
  tracker: SNOWPLOW_TRACKER,
  metrics: SNOWPLOW_METRICS,
  'track-errors': SNOWPLOW_TRACK_ERRORS,
  'module-parts': SNOWPLOW_MODULE_PARTS,
  instance: SNOWPLOW_INSTANCE,
  lifecycle: Symbol('nestjs-snowplow:lifecycle'),
  'tracker-service': Symbol('nestjs-snowplow:tracker-service'),
  'emitter-service': Symbol('nestjs-snowplow:emitter-service'),
  options: Symbol('nestjs-snowplow:options'),
} as const;

/** An internal part of a module instance. */
export type SnowplowPart = keyof typeof DEFAULT_TOKENS;

const namedTokens = new Map<string, symbol>();

/**
 * The token of `part` of the instance `name`: the constant symbol for the default instance, and
 * for a named one a symbol made on first use and kept, so every caller gets the same one.
 */
export function snowplowToken(part: SnowplowPart, name: string = DEFAULT_TRACKER_NAME): symbol {
  if (name === DEFAULT_TRACKER_NAME) return DEFAULT_TOKENS[part];
  const key = `${part}[${name}]`;
  let token = namedTokens.get(key);
  if (token === undefined) namedTokens.set(key, (token = Symbol(`nestjs-snowplow:${key}`)));
  return token;
}

/** The log context of the instance `name`: `Snowplow` for the default, `Snowplow:<name>` else. */
export function snowplowLogContext(name: string = DEFAULT_TRACKER_NAME): string {
  return name === DEFAULT_TRACKER_NAME ? SNOWPLOW_LOG_CONTEXT : `${SNOWPLOW_LOG_CONTEXT}:${name}`;
}
