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
export type DropReason = 'overflow' | 'rejected' | 'too_large' | 'expired' | 'shutdown';

export const DROP_REASONS: readonly DropReason[] = ['overflow', 'rejected', 'too_large', 'expired', 'shutdown'];

/** Every drop reason at zero. */
export function zeroDrops(): Record<DropReason, number> {
  return Object.fromEntries(DROP_REASONS.map((reason) => [reason, 0])) as Record<DropReason, number>;
}

export const EVENT_KINDS: readonly EventKind[] = ['billing', 'custom'];

/** Hooks for metrics. Every method is called synchronously from the emitter and must not throw. */
export interface EmitterObserver {
  eventsEnqueued(count: number): void;
  /** One HTTP request finished (any status, or a local error), for the request duration histogram. */
  requestFinished(result: 'success' | 'failure', durationSeconds: number): void;
  /** Events whose attempt ended: delivered (`success`) or not (`failure`); once per event per attempt. */
  eventsSent(result: 'success' | 'failure', count: number): void;
  eventsDropped(reason: DropReason, kind: EventKind, count: number): void;
  /** The collector refused the credentials (401 or 403 after a token refresh). */
  authFailed(): void;
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
  capacity: number;
  dropped: Record<DropReason, number>;
}

/** A snapshot of the emitter's state, for health checks and diagnostics. */
export interface EmitterStats {
  /** Waiting, both lanes. */
  queued: number;
  inFlight: number;
  /** Capacity of the custom lane (see `billing.capacity` for the other). */
  capacity: number;
  enqueued: number;
  sent: number;
  /** Drops of both lanes, by reason. */
  dropped: Record<DropReason, number>;
  billing: LaneStats;
  custom: LaneStats;
  /** ms epoch of the last accepted batch, or undefined. */
  lastSuccessAt?: number;
  /** Message of the last failed request (never contains credentials), or undefined. */
  lastError?: string;
  /** Failed batch requests since the last success (answers that are retried). */
  consecutiveFailures: number;
  /** Requests the collector refused for their credentials (401/403). */
  authFailures: number;
  stopped: boolean;
}

export interface EmitterLogger {
  log?(message: string): void;
  warn(message: string): void;
  error(message: string): void;
  debug?(message: string): void;
}
