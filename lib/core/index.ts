/**
 * `nestjs-snowplow/core`: the framework-free engine. It loads nothing from Nest or rxjs, for
 * scripts, workers and benchmarks outside a Nest app. Every name here is public API; everything
 * else in the package is internal and may change in any release.
 *
 * @packageDocumentation
 */

// Building events (tracker/)
export { Tracker } from '../tracker/tracker';
export type {
  BillingTrackOptions,
  BillingTrackResult,
  TrackerOptions,
  TrackResult,
  TransactionTracker,
} from '../tracker/tracker';
export type { SqlExecutor, TransactionLike } from '../tracker/transaction';
export type { TrackOptions } from '../tracker/track-options';
export type { SelfDescribingJson } from '../tracker/self-describing-event';
export type {
  AnySchemas,
  DataOf,
  SchemaOf,
  SelfDescribingEventOf,
  SelfDescribingOf,
} from '../tracker/schema-catalogue';
export type { ValidateOptions } from '../tracker/schema-validation';
export { generateSchemaTypes } from '../schema-types/schema-types';
export type { SchemaTypesOptions } from '../schema-types/schema-types';
export type { StructEvent } from '../tracker/struct-event';
export type { PageView } from '../tracker/page-view-event';
export type { Subject } from '../tracker/subject';
export type {
  ConditionalEntity,
  EntityGenerator,
  GlobalEntity,
  GlobalEntityEvent,
  GlobalEntityFailure,
} from '../tracker/global-entities';
export type { EventLane } from '../tracker/event';
export type { BillingEventOptionalInput, BillingEventRequiredInput } from '../tracker/billing-event';
export type { CommitOutcome, EnqueueOptions, EventKind, EventSink, TrackedPayload } from '../tracker/payload';
export { BILLING_REALMS, MAX_EVENT_NAME_LENGTH, PLATFORMS, PROTOCOL_LIMITS } from '../validation';
export type { BillingRealm, Platform } from '../validation';

// Where events wait (storage/)
export { RingBufferStorage } from '../storage/ring-buffer.storage';
export { SqliteStorage } from '../storage/sqlite.storage';
export type { SqliteStorageOptions } from '../storage/sqlite.storage';
export { PostgresStorage } from '../storage/postgres.storage';
export type {
  PostgresPool,
  PostgresPoolClient,
  PostgresResult,
  PostgresStorageOptions,
} from '../storage/postgres.storage';
export { migratePostgresOutbox, postgresOutboxDdl } from '../storage/postgres-sql';
export type { PostgresOutboxNames, PostgresQueryable } from '../storage/postgres-sql';
export type {
  EventStorage,
  MaybePromise,
  StorageFailureHandler,
  StorageOp,
  StoreDeadLetterRecord,
  SyncEventStorage,
} from '../storage/event-storage.interface';
export type { QueuedEvent } from '../storage/queued-event';
export type { StorageConfig } from '../storage/create-storage';

// Sending them (emitter/)
export { Emitter } from '../emitter/emitter';
export type {
  BillingLaneOptions,
  DeadLetterOptions,
  EmitterOptions,
  ResolvedEmitterOptions,
} from '../emitter/emitter-options';
export type { BackoffOptions } from '../emitter/backoff';
export type { SnowplowEmitter } from '../emitter/snowplow-emitter';
export { CollectorRequestError } from '../emitter/collector-client';
export type {
  CorrelationIdRejectReason,
  DrainResult,
  DropReason,
  EmitterCallback,
  EmitterLogger,
  EmitterObserver,
  EmitterStats,
  LaneStats,
  SendResult,
} from '../emitter/send-result';

// Events given up (dead-letter/, replay/)
export type { DeadLetterReason, DeadLetterRecord } from '../dead-letter/dead-letter-record';
export { replayDeadLetters } from '../replay/replay';
export type { ReplayDeadLettersOptions, ReplayDeadLettersResult } from '../replay/replay';
export { requeueDeadLetterTable } from '../replay/dead-table';
export type { DeadTableQueryable, RequeueDeadLettersOptions, RequeueDeadLettersResult } from '../replay/dead-table';

// Credentials for the collector (auth/)
export { StaticTokenSource } from '../auth/static-token-source';
export { FileTokenSource } from '../auth/file-token-source';
export { OidcTokenSource } from '../auth/oidc-token-source';
export type { OidcClientAuthMethod, OidcTokenSourceOptions } from '../auth/oidc-token-source';
export type { TokenSource } from '../auth/token-source.interface';
export { TokenSourceError } from '../auth/token-source-error';
export type { TokenSourceErrorCode, TokenSourceErrorDetails } from '../auth/token-source-error';

// Errors
export {
  BillingQueueFullError,
  DeadLetterModeError,
  DeadLetterSymlinkError,
  EmitterStoppedError,
  EventTooLargeError,
  InvalidCollectorUrlError,
  InvalidEventError,
  InvalidOptionError,
  MissingDependencyError,
  SchemaTypesSourceError,
  SchemaTypesUsageError,
  SchemaValidationError,
  SnowplowError,
  StorageBufferFullError,
  StorageBusyError,
  StorageCommitUnknownError,
  StorageCorruptError,
  StorageError,
  StorageFullError,
  StorageIoError,
  StorageLockedError,
  StorageUnavailableError,
} from '../errors';

export { LIBRARY_VERSION, TRACKER_VERSION } from '../version';
