export * from './values';
export * from './redact-url';
