/**
 * `nestjs-snowplow/health`: a `@nestjs/terminus` health indicator for the emitter.
 *
 * @packageDocumentation
 */
export { SnowplowHealthIndicator } from './snowplow-health.indicator';
export type { SnowplowHealthOptions } from './snowplow-health.indicator';
