export * from './snowplow.module';
export { SNOWPLOW_MODULE_OPTIONS } from './snowplow.module-definition';
export * from './snowplow-module-options';
export * from './emitter.service';
export * from './tracker.service';
