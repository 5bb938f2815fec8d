// `nestjs-snowplow/core`: the framework-free engine (tracker, storage, emitter, token sources).
// It loads nothing from Nest or rxjs, for scripts, workers and benchmarks outside a Nest app.
export * from '../errors';
export * from '../auth';
export * from '../storage';
export * from '../tracker';
export * from '../emitter';
export * from '../dead-letter';
export { LIBRARY_VERSION, TRACKER_VERSION } from '../version';
export * from '../replay';
