export * from './event-storage.interface';
export * from './queued-event';
export * from './ring-buffer.storage';
export * from './sqlite.storage';
export * from './create-storage';
