import { clampTimeout } from '../utils/timers';

/** `drain()` calls waiting for the emitter to have nothing queued or in flight. */
export class IdleWaiters {
  private readonly waiters = new Set<() => void>();

  /** Resolves `true` when woken, `false` once `timeoutMs` passed first. */
  async wait(timeoutMs: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    let wake!: () => void;
    try {
      return await Promise.race([
        new Promise<boolean>((resolve) => this.waiters.add((wake = () => resolve(true)))),
        new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), clampTimeout(timeoutMs)))),
      ]);
    } finally {
      clearTimeout(timer);
      this.waiters.delete(wake);
    }
  }

  /** Wakes every waiter. */
  wakeAll(): void {
    const waiters = [...this.waiters];
    this.waiters.clear();
    for (const wake of waiters) wake();
  }
}
