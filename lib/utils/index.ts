export * from './values';
export * from './redact-url';
export * from './timers';
export * from './exit-hooks';
export * from './optional-dependency';
export * from './process-alive';
