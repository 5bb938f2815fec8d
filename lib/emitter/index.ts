export * from './emitter';
export * from './emitter-options';
export * from './send-result';
export { Backoff, BackoffOptions, DEFAULT_BACKOFF, parseRetryAfter } from './backoff';
export { CollectorRequestError, CONTENT_TYPE } from './collector-client';
export * from './snowplow-emitter';
