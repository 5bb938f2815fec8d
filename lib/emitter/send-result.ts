import type { StorageOp } from '../storage/event-storage.interface';
import type { EventKind } from '../tracker/payload';

/** Outcome of one batch request, as the callback receives it. */
export interface SendResult {
  /** Events in the batch. */
  eventCount: number;
  /** HTTP status, or -1 for a local error (refused, reset, timeout, abort, token failure). */
  statusCode: number;
  /** Set for local errors and for answers that are not a success. */
  error?: Error;
  /** The `eid` of each event in the batch, in order. */
  eids: string[];
}

/**
 * Runs once per send-loop pass with everything that pass sent: each event appears at most once,
 * with its final outcome in that pass (a batch the collector made the emitter split is reported
 * by its parts). A throwing callback is logged and ignored.
 */
export type EmitterCallback = (successes: SendResult[], failures: SendResult[]) => void | Promise<void>;

/** Why an event left the queue without being delivered. */
export type DropReason = 'overflow' | 'rejected' | 'too_large' | 'expired' | 'shutdown' | 'not_stored';

export const DROP_REASONS: readonly DropReason[] = [
  'overflow',
  'rejected',
  'too_large',
  'expired',
  'shutdown',
  'not_stored',
];

/** Every drop reason at zero. */
export function zeroDrops(): Record<DropReason, number> {
  return Object.fromEntries(DROP_REASONS.map((reason) => [reason, 0])) as Record<DropReason, number>;
}

export const EVENT_KINDS: readonly EventKind[] = ['billing', 'custom'];

/**
 * Why a correlation id was not sent: longer than the Nest module's `correlationIdMaxLength`
 * (`too_long`), or dropped from a billing event that would otherwise exceed `maxEventBytes`
 * (`event_too_large`; the event was sent without it).
 */
export type CorrelationIdRejectReason = 'too_long' | 'event_too_large';

export const CORRELATION_ID_REJECT_REASONS: readonly CorrelationIdRejectReason[] = ['too_long', 'event_too_large'];

/** Hooks for metrics. Every method is called synchronously from the emitter and must not throw. */
export interface EmitterObserver {
  /** Events accepted by `enqueue`. */
  eventsEnqueued(count: number): void;
  /** One HTTP request finished (any status, or a local error), for the request duration histogram. */
  requestFinished(result: 'success' | 'failure', durationSeconds: number): void;
  /** Events whose attempt ended: delivered (`success`) or not (`failure`); once per event per attempt. */
  eventsSent(result: 'success' | 'failure', count: number): void;
  /** Events given up (overwritten, rejected, too large, expired, at shutdown). */
  eventsDropped(reason: DropReason, kind: EventKind, count: number): void;
  /** The collector refused the credentials (401 or 403 after a token refresh). */
  authFailed(): void;
  /**
   * Dead-letter lines that could not be written (disk full, permissions), one count per line per
   * failed write. With a durable store their events stay in it and are tried again; in memory
   * they were logged in full. Optional, so observers written before it still fit.
   */
  deadLetterWriteFailed?(count: number): void;
  /** Optional: a correlation id was not sent, and why; the event itself was. */
  correlationIdRejected?(reason: CorrelationIdRejectReason): void;
  /** The event store refused an operation (a full disk, an I/O error, a lock not granted in time). */
  storageFailed?(op: StorageOp): void;
}

/** What `drain()` resolves with. */
export interface DrainResult {
  /** Events the collector accepted while draining. */
  sent: number;
  /** Events still queued or in flight at the end (0 when drained). */
  remaining: number;
  /** False when the deadline passed first. */
  drained: boolean;
}

/** One lane of the queue: billing or custom events. */
export interface LaneStats {
  /** Waiting (not in flight). */
  queued: number;
  /** Most events the lane holds (for `EmitterStats`: the custom lane). */
  capacity: number;
  /** Events given up, by reason. */
  dropped: Record<DropReason, number>;
}

/** A snapshot of the emitter's state, for health checks and diagnostics. */
export interface EmitterStats {
  /** Waiting, both lanes. */
  queued: number;
  /** Events leased and being sent. */
  inFlight: number;
  /** Capacity of the custom lane (see `billing.capacity` for the other). */
  capacity: number;
  /** Events accepted since the emitter was built. */
  enqueued: number;
  /** Events the collector accepted (2xx). */
  sent: number;
  /** Drops of both lanes, by reason. */
  dropped: Record<DropReason, number>;
  /** The billing lane. */
  billing: LaneStats;
  /** The custom lane. */
  custom: LaneStats;
  /** ms epoch of the last accepted batch, or undefined. */
  lastSuccessAt?: number;
  /** Message of the last failed request (never contains credentials), or undefined. */
  lastError?: string;
  /** Failed batch requests since the last success (answers that are retried). */
  consecutiveFailures: number;
  /** Requests the collector refused for their credentials (401/403). */
  authFailures: number;
  /** True once `stop()` was called. */
  stopped: boolean;
  /** Operations the event store refused since the emitter was built (`snowplow_storage_errors_total`). */
  storageErrors: number;
  /**
   * Set while the event store refuses writes (a full disk, an I/O error, a lock not granted in
   * time): the last write's error. Undefined once a write succeeds again.
   */
  storageError?: string;
  /** False while the event store cannot be reached (a PostgreSQL outage); the relay backs off meanwhile. */
  storeReachable: boolean;
  /**
   * A store every instance shares (PostgreSQL): its whole table as last counted, all instances'
   * rows included (`queued` counts this instance's own), refreshed at most once per poll.
   */
  table?: { total: number; waiting: number; countedAt: number };
}

/** Where the emitter logs; Nest's `Logger` fits. Only `warn` and `error` are required. */
export interface EmitterLogger {
  /** Information: e.g. what a shutdown kept in the outbox. */
  log?(message: string): void;
  /** Failures that are retried, and drops of custom events. */
  warn(message: string): void;
  /** Billing events given up, authentication failing, storage errors. */
  error(message: string): void;
  /** Not used today; accepted so that a Nest `Logger` fits. */
  debug?(message: string): void;
}
