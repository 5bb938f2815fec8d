export * from './snowplow.module';
export { SNOWPLOW_MODULE_OPTIONS, SnowplowOptionsFactory } from './snowplow.module-definition';
export * from './snowplow-module-options';
export * from './emitter.service';
export * from './tracker.service';
export * from './snowplow.tokens';
export * from './track-error-sink';
