import type { EventKind } from '../tracker/payload';

/**
 * Where the Nest layer counts tracking failures it swallowed (a throwing `@TrackEvent` props
 * function, a `@TrackBillingEvent` input that fails validation, a throwing `enrich`, tracking
 * after shutdown): the module's metrics, or the testing capture.
 */
export interface TrackErrorSink {
  /** One failure from `source` (e.g. `interceptor`) of an event of `kind`. Must not throw. */
  trackError(source: string, kind: EventKind): void;
}
