/** Outcome of one batch request, as the callback receives it. */
export interface SendResult {
  /** Events in the batch. */
  eventCount: number;
  /** HTTP status, or -1 for a local error (refused, reset, timeout, abort, token failure). */
  statusCode: number;
  /** Set for local errors. */
  error?: Error;
  /** The `eid` of each event in the batch, in order. */
  eids: string[];
}

/** Runs once per send-loop pass with everything that pass sent. A throwing callback is logged and ignored. */
export type EmitterCallback = (successes: SendResult[], failures: SendResult[]) => void | Promise<void>;

/** Why an event left the queue without being delivered. */
export type DropReason = 'overflow' | 'rejected' | 'too_large' | 'expired';

export const DROP_REASONS: readonly DropReason[] = ['overflow', 'rejected', 'too_large', 'expired'];

/** Hooks for metrics. Every method is called synchronously from the emitter and must not throw. */
export interface EmitterObserver {
  eventsEnqueued(count: number): void;
  /** One HTTP request finished (any status, or a local error). */
  batchSent(result: 'success' | 'failure', eventCount: number, durationSeconds: number): void;
  eventsDropped(reason: DropReason, count: number): void;
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

/** A snapshot of the emitter's state, for health checks and diagnostics. */
export interface EmitterStats {
  queued: number;
  inFlight: number;
  capacity: number;
  enqueued: number;
  sent: number;
  dropped: Record<DropReason, number>;
  /** ms epoch of the last accepted batch, or undefined. */
  lastSuccessAt?: number;
  /** Message of the last failed request (never contains credentials), or undefined. */
  lastError?: string;
  /** Failed batch requests since the last success. */
  consecutiveFailures: number;
  stopped: boolean;
}

export interface EmitterLogger {
  log?(message: string): void;
  warn(message: string): void;
  error(message: string): void;
  debug?(message: string): void;
}
