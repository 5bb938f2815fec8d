// Internal barrel of interceptors/. The public API is what lib/index.ts exports.
export * from './handler-context';
export * from './handler-options';
export * from './handler-tracking.interceptor';
export * from './track-billing-event.interceptor';
export * from './track-billing-event.metadata';
export * from './track-event.interceptor';
export * from './track-event.metadata';
