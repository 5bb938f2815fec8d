export * from './event-storage.interface';
export * from './queued-event';
export * from './ring-buffer.storage';
