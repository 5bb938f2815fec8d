// Internal barrel of module/. The public API is what lib/index.ts exports.
export * from './correlation-id';
export * from './emitter.service';
export * from './request-context.interceptor';
export * from './request-context';
export * from './snowplow-module-options';
export * from './snowplow.lifecycle';
export * from './snowplow.module-definition';
export * from './snowplow.module';
export * from './snowplow.providers';
export * from './snowplow.tokens';
export * from './track-error-sink';
export * from './tracker.service';
