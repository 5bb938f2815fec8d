export * from './metric-names';
export { EmitterMetrics, MetricsOptions, QueueSource } from './snowplow-metrics';
