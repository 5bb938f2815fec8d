export * from './snowplow-health.indicator';
