export { TrackEvent } from './track-event.decorator';
export { TRACK_EVENT_METADATA, getTrackEventMetadata } from '../interceptors/track-event.metadata';
export type {
  TrackEventAlwaysOptions,
  TrackEventContext,
  TrackEventContextBase,
  TrackEventErrorContext,
  TrackEventErrorOptions,
  TrackEventMetadata,
  TrackEventOn,
  TrackEventOptions,
  TrackEventProps,
  TrackEventSuccessContext,
  TrackEventSuccessOptions,
} from '../interceptors/track-event.metadata';
