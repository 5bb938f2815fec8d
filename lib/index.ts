export * from './core';
export * from './metrics';
export * from './module';
export * from './decorators';
export * from './interceptors';
