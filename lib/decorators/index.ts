export { TrackEvent } from './track-event.decorator';
export { TRACK_EVENT_METADATA, getTrackEventMetadata } from './track-event.options';
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
} from './track-event.options';
