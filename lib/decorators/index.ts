// Internal barrel of decorators/. The public API is what lib/index.ts exports.
export * from './handler-decorator';
export * from './track-billing-event.decorator';
export * from './track-event.decorator';
export * from './create-track-decorators';
