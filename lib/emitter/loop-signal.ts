import { clampTimeout } from '../utils/timers';

/**
 * Wakes the send loop. New data wakes it only while it is idle; flush (and stop) also cut a
 * backoff sleep short. Signals coalesce: any number of them wake one waiter once.
 */
export class LoopSignal {
  private flushPending = false;
  private waiter?: { acceptData: boolean; wake: () => void };

  notifyData(): void {
    if (this.waiter?.acceptData) this.release();
  }

  notifyFlush(): void {
    if (this.waiter) this.release();
    else this.flushPending = true;
  }

  /** Wakes whoever waits, whatever they wait for (a lingering loop whose batch is now full). */
  wake(): void {
    if (this.waiter) this.release();
  }

  /** A flush arrived while nobody waited and was not consumed yet. */
  get flushRequested(): boolean {
    return this.flushPending;
  }

  /** Clears a flush that arrived while nobody waited. */
  consumeFlush(): boolean {
    const pending = this.flushPending;
    this.flushPending = false;
    return pending;
  }

  /**
   * Resolves when woken or when `timeoutMs` passes, whichever comes first (the loop looks at the
   * queue either way). The timer is unref'd: a sleeping loop never keeps the process alive.
   */
  wait(acceptData: boolean, timeoutMs?: number): Promise<void> {
    if (this.consumeFlush()) return Promise.resolve();
    return new Promise<void>((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const waiter = {
        acceptData,
        wake: () => {
          clearTimeout(timer);
          resolve();
        },
      };
      this.waiter = waiter;
      if (timeoutMs !== undefined) {
        timer = setTimeout(() => {
          // A timed-out waiter left in place would swallow the next flush.
          if (this.waiter === waiter) this.waiter = undefined;
          resolve();
        }, clampTimeout(timeoutMs));
        timer.unref();
      }
    });
  }

  /**
   * After a failed pass: waits `backoffMs` (cut short by a flush or stop), then whatever remains
   * of `retryAfterMs` (cut short only by stop).
   */
  async sleepAfterFailure(backoffMs: number, retryAfterMs: number, stopped: () => boolean): Promise<void> {
    const notBefore = Date.now() + retryAfterMs;
    await this.wait(false, Math.max(backoffMs, retryAfterMs));
    while (!stopped() && Date.now() < notBefore) {
      await this.wait(false, notBefore - Date.now());
    }
  }

  private release(): void {
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.wake();
  }
}
