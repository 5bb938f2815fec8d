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

/** Nest's logger context of everything the module logs. */
export const SNOWPLOW_LOG_CONTEXT = 'Snowplow';
