export * from './dead-letter-record';
export * from './dead-letter-file';
