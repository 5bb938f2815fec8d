export * from './core';
export * from './metrics';
export * from './module';
export * from './decorators';
export * from './interceptors';
export { TrackBillingEvent } from './decorators/track-billing-event.decorator';
export {
  TRACK_BILLING_EVENT_METADATA,
  getTrackBillingEventMetadata,
} from './interceptors/track-billing-event.metadata';
export type {
  TrackBillingEventAlwaysOptions,
  TrackBillingEventErrorOptions,
  TrackBillingEventInput,
  TrackBillingEventMetadata,
  TrackBillingEventOptional,
  TrackBillingEventOptions,
  TrackBillingEventSuccessOptions,
} from './interceptors/track-billing-event.metadata';
export { TrackBillingEventInterceptor } from './interceptors/track-billing-event.interceptor';
export type { SnowplowRequestContext } from './module/request-context';
export { DEFAULT_CORRELATION_ID_HEADERS } from './module/correlation-id';
