import type { RequestFault } from './request-log';
import type { BadEvent, DecodeResult, GoodEvent } from './types';

/** Counts in the shape of Snowplow Micro's `/micro/all`. */
export interface CollectorCounts {
  /** Events received. */
  total: number;
  /** Valid events. */
  good: number;
  /** Events that failed validation. */
  bad: number;
  /** The oldest events forgotten to keep the store within its `maxEvents` cap (since the last reset). */
  dropped: number;
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

/** What a store listener hears: a recorded event (with its id, rising from 1), or a reset. */
export type CollectorChange =
  { type: 'event'; id: number; record: CollectorRecord; fault?: RequestFault } | { type: 'reset' };

/** Called on every change of the store. Exceptions it throws are ignored. */
export type CollectorListener = (change: CollectorChange) => void;

/** A recorded event with its id. */
export interface StoredRecord {
  id: number;
  record: CollectorRecord;
  /** The fault of the request that brought the event, when it was faulted yet stored (a 2xx or a delay). */
  fault?: RequestFault;
}

/** `waitFor` condition: a total event count (good + bad) to reach, or a test on the events. */
export type WaitCondition = number | ((snapshot: CollectorSnapshot) => boolean);

function atLeast(count: number): (snapshot: CollectorSnapshot) => boolean {
  return (snapshot) => snapshot.good.length + snapshot.bad.length >= count;
}

interface Waiter {
  check(): void;
  fail(error: Error): void;
}

/**
 * In-memory good and bad events, oldest first, at most `maxEvents` of them (the oldest are dropped
 * and counted), with listeners told of every event and reset, and waiters woken on every change.
 */
export class EventStore {
  private kept: StoredRecord[] = [];
  private good = 0;
  private dropped = 0;
  private nextId = 1;
  private readonly listeners = new Set<CollectorListener>();
  private readonly waiters = new Set<Waiter>();

  constructor(private readonly maxEvents = Infinity) {}

  /** Adds a listener; returns the function that removes it. */
  subscribe(listener: CollectorListener): () => void {
    this.listeners.add(listener);
    return () => this.unsubscribe(listener);
  }

  unsubscribe(listener: CollectorListener): void {
    this.listeners.delete(listener);
  }

  /** Records the events of one request; `fault` marks them as arrived in a faulted (yet stored) request. */
  add(result: DecodeResult, fault?: RequestFault): void {
    const records: CollectorRecord[] = [
      ...result.good.map((event) => ({ kind: 'good' as const, event })),
      ...result.bad.map((event) => ({ kind: 'bad' as const, event })),
    ];
    for (const record of records) {
      const id = this.nextId++;
      this.kept.push(fault ? { id, record, fault } : { id, record });
      if (record.kind === 'good') this.good++;
      this.notify(fault ? { type: 'event', id, record, fault } : { type: 'event', id, record });
    }
    this.trim();
    for (const waiter of [...this.waiters]) waiter.check();
  }

  reset(): void {
    this.kept = [];
    this.good = 0;
    this.dropped = 0;
    this.notify({ type: 'reset' });
  }

  counts(): CollectorCounts {
    const total = this.kept.length;
    return { total, good: this.good, bad: total - this.good, dropped: this.dropped };
  }

  snapshot(): CollectorSnapshot {
    const good: GoodEvent[] = [];
    const bad: BadEvent[] = [];
    for (const { record } of this.kept) {
      if (record.kind === 'good') good.push(record.event);
      else bad.push(record.event);
    }
    return { good, bad };
  }

  /** The events kept, oldest first, with their ids (a copy). */
  records(): StoredRecord[] {
    return [...this.kept];
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

  /** Drops the oldest records past the cap. */
  private trim(): void {
    const excess = this.kept.length - this.maxEvents;
    if (excess <= 0) return;
    for (const { record } of this.kept.splice(0, excess)) if (record.kind === 'good') this.good--;
    this.dropped += excess;
  }

  private notify(change: CollectorChange): void {
    for (const listener of [...this.listeners]) {
      try {
        listener(change);
      } catch {
        // A failing listener must not stop the collector from recording, nor the other listeners.
      }
    }
  }

  private timeoutMessage(condition: WaitCondition, timeoutMs: number): string {
    const wanted = typeof condition === 'number' ? `${condition} event(s)` : 'the condition';
    const { good, bad } = this.counts();
    const reasons = this.snapshot()
      .bad.slice(-3)
      .flatMap((event) => event.errors.map((error) => `${error.field}: ${error.message}`));
    const tail = reasons.length > 0 ? `; latest bad: ${reasons.join(' | ')}` : '';
    return `waitFor timed out after ${timeoutMs} ms waiting for ${wanted}; received ${good} good, ${bad} bad${tail}`;
  }
}
