import { StorageFailureHandler } from './event-storage.interface';
import { QueuedEvent } from './queued-event';

/** A failed end-of-tick write is retried after this, doubling up to the cap. */
const RETRY_MS = { first: 100, cap: 5_000 };

/**
 * The writes a durable store does on its own: the end-of-tick write of pending events, and the
 * last one at process exit. A failed write is told to the handler and retried with a backoff
 * (the events stay in memory meanwhile); at exit, what still cannot be written is handed to the
 * handler, which keeps a record of it.
 */
export class BackgroundWrites {
  /** Told of failures; set by the emitter through `EventStorage.onFailure`. */
  handler?: StorageFailureHandler;
  private timer?: NodeJS.Timeout;
  private delayMs = 0;

  constructor(
    /** Writes what is pending; throws when the store refuses. */
    private readonly write: () => void,
    /** Empties the pending events, for the handler at exit. */
    private readonly takePending: () => QueuedEvent[],
    /** Before a retry: gives back what the refused write may have taken (a full disk's WAL); never throws. */
    private readonly beforeRetry: () => void = () => undefined,
  ) {}

  /** A retry is scheduled: the next tick need not write. */
  get retrying(): boolean {
    return this.timer !== undefined;
  }

  /** The end-of-tick write (and each retry). */
  run(): void {
    this.timer = undefined;
    try {
      // The last write was refused: this is a retry.
      if (this.delayMs > 0) this.beforeRetry();
      this.write();
      this.delayMs = 0;
    } catch (err) {
      this.handler?.failed('flush', err as Error);
      this.delayMs = Math.min(RETRY_MS.cap, this.delayMs * 2 || RETRY_MS.first);
      // Unref'd: a pending retry never holds the process; the exit hook has the last word.
      this.timer = setTimeout(() => this.run(), this.delayMs).unref();
    }
  }

  /**
   * Before reading the queue: the write, unless a retry is scheduled. A refused write (a full disk)
   * is told to the handler and retried as any, once per failure: it never stops the rows already in
   * the file from being leased, sent and deleted, which is what frees the disk.
   */
  runUnlessRetrying(): void {
    if (!this.retrying) this.run();
  }

  /** The process is ending (or the store closing): write what is pending, or hand it to the handler for a record. */
  atExit(): void {
    try {
      this.write();
    } catch (err) {
      // Nobody to keep a record: the caller (close) hears it, and the events stay pending.
      if (!this.handler) throw err;
      const unwritten = this.takePending();
      if (unwritten.length > 0) this.handler.unwritten(unwritten, err as Error);
    }
  }

  /** No more retries (the store closes). */
  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}
