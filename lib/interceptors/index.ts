export { TrackEventInterceptor } from './track-event.interceptor';
