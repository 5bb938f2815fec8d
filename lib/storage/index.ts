export * from './event-storage.interface';
export * from './queued-event';
export * from './ring-buffer.storage';
export * from './sqlite.storage';
export * from './postgres.storage';
export { postgresOutboxDdl, migratePostgresOutbox } from './postgres-sql';
export type { PostgresOutboxNames, PostgresQueryable } from './postgres-sql';
export * from './create-storage';
