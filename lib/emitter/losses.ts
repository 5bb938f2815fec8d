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
    this.log.every(
      'billing-overflow',
      BILLING_OVERFLOW_LOG_INTERVAL_MS,
      'error',
      () =>
        `the billing queue is full (${capacity} events waiting, billing.capacity): new billing events are ` +
        (this.deadLetters ? `dead-lettered to ${this.deadLetters.path}` : 'logged with their payload and dropped'),
    );
    this.giveUp([event], 'overflow', { error: `the billing queue was full (billing.capacity ${capacity})` });
  }

  /** Gives `events` up for `reason`. Returns how many were billing events. */
  giveUp(events: readonly QueuedEvent[], reason: DropReason, detail: LossDetail): number {
    if (events.length === 0) return 0;
    const billing = events.filter((event) => kindOf(event) === 'billing');
    this.count(reason, 'billing', billing.length);
    this.count(reason, 'custom', events.length - billing.length);
    if (this.deadLetters) {
      this.deadLetters.append(events.map((event) => deadLetterRecord(event, reason, detail)));
      if (this.durable) this.deadLetters.flushSync();
    } else {
      for (const event of billing) {
        this.log.error(
          `billing event ${event.eid} dropped (${reason}: ${detail.error}) and no deadLetter file is set; ` +
            `its payload: ${event.json}`,
        );
      }
    }
    return billing.length;
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
