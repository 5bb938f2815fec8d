import type { EventSink } from '../tracker/payload';
import type { DrainResult, EmitterStats } from './send-result';

/**
 * An emitter as the Nest layer drives it: the core `Emitter` implements it, and so does the
 * testing module's `SnowplowTestingCapture`, both checked by the compiler.
 */
export interface SnowplowEmitter extends EventSink {
  /** The collector URL with its user part and query values masked. */
  readonly collectorUrl: string;
  /** Events waiting to be sent (not in flight), both lanes. */
  readonly queueDepth: number;
  /** Capacity of the custom lane. */
  readonly capacity: number;
  /** True once `stop()` was called. */
  readonly isStopped: boolean;
  /** Starts the send loop (idempotent). */
  start(): void;
  /** Sends what is queued now, cutting a backoff short. Returns at once. */
  flush(): void;
  /** Resolves when nothing is queued or in flight, or when `timeoutMs` passes. */
  drain(timeoutMs: number): Promise<DrainResult>;
  /** Aborts what is in flight, accounts for what is left and releases resources. */
  stop(): Promise<void>;
  /** A snapshot of the queue and of what was sent and dropped. */
  stats(): EmitterStats;
}
