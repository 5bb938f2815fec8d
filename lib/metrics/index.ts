// Internal barrel of metrics/. The public API is what lib/index.ts exports.
export * from './metric-names';
export * from './prom-client-loader';
export * from './snowplow-metrics';
