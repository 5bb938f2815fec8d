import type { BadEvent, DecodeResult, GoodEvent } from './types';

/** Counts in the shape of Snowplow Micro's `/micro/all`. */
export interface CollectorCounts {
  /** Events received. */
  total: number;
  /** Valid events. */
  good: number;
  /** Events that failed validation. */
  bad: number;
}

/** The events received so far (copies). */
export interface CollectorSnapshot {
  /** Valid events, decoded, in arrival order. */
  good: GoodEvent[];
  /** Events that failed validation. */
  bad: BadEvent[];
}

/** One event as it is recorded, for `onEvent`. */
export type CollectorRecord = { kind: 'good'; event: GoodEvent } | { kind: 'bad'; event: BadEvent };

/** `waitFor` condition: a total event count (good + bad) to reach, or a test on the events. */
export type WaitCondition = number | ((snapshot: CollectorSnapshot) => boolean);

function atLeast(count: number): (snapshot: CollectorSnapshot) => boolean {
  return (snapshot) => snapshot.good.length + snapshot.bad.length >= count;
}

interface Waiter {
  check(): void;
  fail(error: Error): void;
}

/** In-memory good and bad events, with waiters woken on every change. */
export class EventStore {
  private good: GoodEvent[] = [];
  private bad: BadEvent[] = [];
  private readonly waiters = new Set<Waiter>();

  constructor(private readonly onEvent?: (record: CollectorRecord) => void) {}

  add(result: DecodeResult): void {
    this.good.push(...result.good);
    this.bad.push(...result.bad);
    for (const event of result.good) this.notify({ kind: 'good', event });
    for (const event of result.bad) this.notify({ kind: 'bad', event });
    for (const waiter of [...this.waiters]) waiter.check();
  }

  reset(): void {
    this.good = [];
    this.bad = [];
  }

  counts(): CollectorCounts {
    return { total: this.good.length + this.bad.length, good: this.good.length, bad: this.bad.length };
  }

  snapshot(): CollectorSnapshot {
    return { good: [...this.good], bad: [...this.bad] };
  }

  /** Resolves with a snapshot once `condition` holds; rejects after `timeoutMs` saying what came. */
  waitFor(condition: WaitCondition, timeoutMs: number): Promise<CollectorSnapshot> {
    const test = typeof condition === 'number' ? atLeast(condition) : condition;
    return new Promise((resolve, reject) => {
      const settle = (error: Error | undefined, snapshot?: CollectorSnapshot) => {
        clearTimeout(timer);
        this.waiters.delete(waiter);
        if (error) reject(error);
        else resolve(snapshot as CollectorSnapshot);
      };
      const waiter: Waiter = {
        check: () => {
          try {
            const snapshot = this.snapshot();
            if (test(snapshot)) settle(undefined, snapshot);
          } catch (error) {
            settle(error as Error);
          }
        },
        fail: (error) => settle(error),
      };
      const timer = setTimeout(() => settle(new Error(this.timeoutMessage(condition, timeoutMs))), timeoutMs);
      this.waiters.add(waiter);
      waiter.check();
    });
  }

  /** Rejects every pending `waitFor`. */
  failWaiters(error: Error): void {
    for (const waiter of [...this.waiters]) waiter.fail(error);
  }

  private notify(record: CollectorRecord): void {
    try {
      this.onEvent?.(record);
    } catch {
      // A failing observer must not stop the collector from recording.
    }
  }

  private timeoutMessage(condition: WaitCondition, timeoutMs: number): string {
    const wanted = typeof condition === 'number' ? `${condition} event(s)` : 'the condition';
    const { good, bad } = this.counts();
    const reasons = this.bad
      .slice(-3)
      .flatMap((event) => event.errors.map((error) => `${error.field}: ${error.message}`));
    const tail = reasons.length > 0 ? `; latest bad: ${reasons.join(' | ')}` : '';
    return `waitFor timed out after ${timeoutMs} ms waiting for ${wanted}; received ${good} good, ${bad} bad${tail}`;
  }
}
