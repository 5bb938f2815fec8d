import { DeadLetterFile, deadLetterRecord } from '../dead-letter/dead-letter-file';
import { kindOf } from '../storage/event-storage.interface';
import { QueuedEvent } from '../storage/queued-event';
import type { EventKind } from '../tracker/payload';
import { EventStorage } from '../storage/event-storage.interface';
import { EmitterLog, errorMessage } from './emitter-log';
import { DROP_REASONS, DropReason, EmitterObserver, zeroDrops } from './send-result';

const BILLING_OVERFLOW_LOG_INTERVAL_MS = 10_000;

/** Why events were given up, for the dead-letter line and the log. */
export interface LossDetail {
  statusCode?: number;
  error: string;
}

/** What became of events given up from the store (see {@link Losses.giveUpLeased}). */
export interface LeasedGiveUp {
  /** Billing events among those given up. */
  billing: number;
  /** Set when their dead-letter lines are not on disk: why. The events were not given up, and must stay. */
  writeFailure?: string;
}

/**
 * Where events that will never be delivered go: counted by kind and reason, written to the
 * dead-letter file when there is one, and otherwise, for billing events, logged at error level
 * with their whole payload so that log pipelines keep them. Nothing vanishes without a record.
 */
export class Losses {
  readonly dropped: Record<EventKind, Record<DropReason, number>> = { billing: zeroDrops(), custom: zeroDrops() };

  constructor(
    private readonly log: EmitterLog,
    private readonly observe: (call: (observer: EmitterObserver) => void) => void,
    private readonly deadLetters: DeadLetterFile | undefined,
    /** The store survives a crash: a dead-letter line must be on disk before its event leaves the store. */
    private readonly durable: boolean,
  ) {}

  /** The dead-letter file, when one is set. */
  get deadLetterPath(): string | undefined {
    return this.deadLetters?.path;
  }

  /** Custom events the storage overwrote to make room: counted only. */
  overwritten(count: number): void {
    this.count('overflow', 'custom', count);
  }

  /** Custom events a shared store dropped because other processes filled it: counted only. */
  countEvictions(storage: EventStorage): void {
    try {
      this.overwritten(storage.takeEvictions?.() ?? 0);
    } catch (err) {
      this.log.error(`the event store failed to report evictions: ${errorMessage(err)}`);
    }
  }

  /** A billing event that found its lane full: given up as `overflow`, and the log says so. */
  billingOverflow(event: QueuedEvent, capacity: number): void {
    this.logOverflow(capacity);
    this.giveUp([event], 'overflow', { error: `the billing queue was full (billing.capacity ${capacity})` });
  }

  private logOverflow(capacity: number): void {
    this.log.every(
      'billing-overflow',
      BILLING_OVERFLOW_LOG_INTERVAL_MS,
      'error',
      () =>
        `the billing queue is full (${capacity} events waiting, billing.capacity): new billing events are ` +
        (this.deadLetters ? `dead-lettered to ${this.deadLetters.path}` : 'logged with their payload and dropped'),
    );
  }

  /**
   * A billing event that found its lane full on a durable store: its `overflow` line is written
   * and fsynced now, then it is counted. Returns `undefined` once the line is on disk, or why it
   * is not (no dead-letter file, or the write failed): then nothing is counted and the caller
   * still holds the event.
   */
  billingOverflowNow(event: QueuedEvent, capacity: number): string | undefined {
    if (!this.deadLetters) return 'no deadLetter file is set to record it';
    const failure = this.deadLetters.appendNow([
      deadLetterRecord(event, 'overflow', { error: `the billing queue was full (billing.capacity ${capacity})` }),
    ]);
    if (failure !== undefined)
      return `its dead-letter line could not be written to ${this.deadLetters.path}: ${failure}`;
    this.logOverflow(capacity);
    this.countGivenUp([event], 'overflow');
    return undefined;
  }

  /**
   * Gives up events that are still in the store, before the caller deletes them: no record, no
   * delete. With a durable store and a dead-letter file, their lines are written and fsynced now;
   * when that fails nothing is counted and `writeFailure` says why, so the caller keeps the events.
   * Otherwise as `giveUp`.
   */
  giveUpLeased(events: readonly QueuedEvent[], reason: DropReason, detail: LossDetail): LeasedGiveUp {
    if (events.length === 0 || !this.deadLetters || !this.durable)
      return { billing: this.giveUp(events, reason, detail) };
    const writeFailure = this.deadLetters.appendNow(events.map((event) => deadLetterRecord(event, reason, detail)));
    if (writeFailure !== undefined) return { billing: 0, writeFailure };
    return { billing: this.countGivenUp(events, reason) };
  }

  /**
   * Events a store already moved to its own dead-letter record (a PostgreSQL dead-letter table):
   * counted, and copied to the dead-letter file when one is set (an extra; a failed copy is only
   * logged, since the store holds the record). Returns how many were billing events.
   */
  givenUpToStore(events: readonly QueuedEvent[], reason: DropReason, detail: LossDetail): number {
    if (this.deadLetters) {
      const failure = this.deadLetters.appendNow(events.map((event) => deadLetterRecord(event, reason, detail)));
      if (failure !== undefined)
        this.log.warn(
          `${events.length} dead-lettered events are in the store's dead-letter table, but their copy to ` +
            `${this.deadLetters.path} failed: ${failure}`,
        );
    }
    return this.countGivenUp(events, reason);
  }

  /** Gives `events` up for `reason`. Returns how many were billing events. */
  giveUp(events: readonly QueuedEvent[], reason: DropReason, detail: LossDetail): number {
    if (events.length === 0) return 0;
    const billingCount = this.countGivenUp(events, reason);
    if (this.deadLetters) {
      this.deadLetters.append(events.map((event) => deadLetterRecord(event, reason, detail)));
      if (this.durable) this.deadLetters.flushSync();
    } else {
      for (const event of events) {
        if (kindOf(event) !== 'billing') continue;
        this.log.error(
          `billing event ${event.eid} dropped (${reason}: ${detail.error}) and no deadLetter file is set; ` +
            `its payload: ${event.json}`,
        );
      }
    }
    return billingCount;
  }

  /** Counts the events as given up for `reason`; returns how many were billing events. */
  private countGivenUp(events: readonly QueuedEvent[], reason: DropReason): number {
    const billing = events.filter((event) => kindOf(event) === 'billing').length;
    this.count(reason, 'billing', billing);
    this.count(reason, 'custom', events.length - billing);
    return billing;
  }

  /** Drops of both lanes, by reason. */
  totals(): Record<DropReason, number> {
    const totals = zeroDrops();
    for (const reason of DROP_REASONS) totals[reason] = this.dropped.billing[reason] + this.dropped.custom[reason];
    return totals;
  }

  private count(reason: DropReason, kind: EventKind, count: number): void {
    if (count === 0) return;
    this.dropped[kind][reason] += count;
    this.observe((o) => o.eventsDropped(reason, kind, count));
  }
}
