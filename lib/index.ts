export * from './errors';
export * from './auth';
export * from './storage';
export * from './tracker';
export * from './emitter';
export { LIBRARY_VERSION, TRACKER_VERSION } from './version';
export * from './metrics';
export * from './module';
