/**
 * `nestjs-snowplow`: Snowplow analytics and billing events for NestJS. Everything of
 * `nestjs-snowplow/core`, plus the Nest module, its services, the decorator and the metrics.
 * Every name here is public API; everything else in the package is internal.
 *
 * @packageDocumentation
 */
export * from './core';

// The Nest module (module/)
export { SnowplowModule } from './module/snowplow.module';
export { getSnowplowToken, InjectEmitter, InjectTracker } from './module/snowplow.inject';
export type { SnowplowTokenPart } from './module/snowplow.inject';
export { SNOWPLOW_MODULE_OPTIONS } from './module/snowplow.module-definition';
export type {
  SnowplowModuleAsyncOptions,
  SnowplowModuleImportOptions,
  SnowplowOptionsFactory,
} from './module/snowplow.module-definition';
export type { SnowplowModuleOptions } from './module/snowplow-module-options';
export { TrackerService } from './module/tracker.service';
export { EmitterService } from './module/emitter.service';
export type { TrackErrorSink } from './module/track-error-sink';

// @TrackEvent on handlers (decorators/, interceptors/)
export type { TrackerChoice } from './interceptors/handler-options';
export { TrackEvent } from './decorators/track-event.decorator';
export type { TrackEventDecorator } from './decorators/track-event.decorator';
export { TrackEventInterceptor } from './interceptors/track-event.interceptor';
export type {
  TrackEventAlwaysOptions,
  TrackEventContext,
  TrackEventContextBase,
  TrackEventData,
  TrackEventErrorContext,
  TrackEventErrorOptions,
  TrackEventOn,
  TrackEventOptions,
  TrackEventProps,
  TrackEventSelfDescribing,
  TrackEventSuccessContext,
  TrackEventSuccessOptions,
} from './interceptors/track-event.metadata';
export type { HandlerTrackOptions, TrackEventEntities, TrackEventSubject } from './interceptors/handler-track-options';
// Both decorators typed with the user's schema catalogue
export { createTrackDecorators } from './decorators/create-track-decorators';
export type { TrackDecorators } from './decorators/create-track-decorators';

// @TrackBillingEvent on handlers
export { TrackBillingEvent } from './decorators/track-billing-event.decorator';
export type { TrackBillingEventDecorator } from './decorators/track-billing-event.decorator';
export { TrackBillingEventInterceptor } from './interceptors/track-billing-event.interceptor';
export type {
  TrackBillingEventAlwaysOptions,
  TrackBillingEventErrorOptions,
  TrackBillingEventInput,
  TrackBillingEventOptional,
  TrackBillingEventOptions,
  TrackBillingEventSuccessOptions,
} from './interceptors/track-billing-event.metadata';

// Request correlation (module/)
export type { SnowplowRequestContext } from './module/request-context';
export { DEFAULT_CORRELATION_ID_HEADERS, DEFAULT_CORRELATION_ID_MAX_LENGTH } from './module/correlation-id';

// Prometheus metrics (metrics/)
export { EmitterMetrics } from './metrics/snowplow-metrics';
export type { MetricsOptions, QueueSource } from './metrics/snowplow-metrics';
