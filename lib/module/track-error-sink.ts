/**
 * Where the Nest layer counts tracking failures it swallowed (a throwing `@TrackEvent` props
 * function, tracking after shutdown): the module's metrics, or the testing capture.
 */
export interface TrackErrorSink {
  /** One failure from `source` (e.g. `interceptor`). Must not throw. */
  trackError(source: string): void;
}
