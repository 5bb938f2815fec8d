import { EventStorage } from '../storage/event-storage.interface';
import { QueuedEvent } from '../storage/queued-event';
import { CollectorClient, PostOutcome } from './collector-client';
import { ENVELOPE_BYTES, serialiseBatch } from './batch-body';
import { EmitterLog, errorMessage } from './emitter-log';
import { ResolvedEmitterOptions, TP2_PATH } from './emitter-options';
import { EmitterState } from './emitter-state';
import { LossDetail, Losses } from './losses';
import { classifyOutcome, RetryHint } from './outcome';
import { DropReason, EmitterObserver, SendResult } from './send-result';
import { Settlement } from './settlement';

const AUTH_LOG_INTERVAL_MS = 60_000;

/** What a send pass works with: the emitter's parts. */
export interface PassHost {
  readonly options: ResolvedEmitterOptions;
  readonly storage: EventStorage;
  readonly settlement: Settlement;
  readonly client: CollectorClient;
  readonly losses: Losses;
  readonly log: EmitterLog;
  readonly state: EmitterState;
  readonly abort: AbortSignal;
  observe(call: (observer: EmitterObserver) => void): void;
}

/**
 * One pass of the send loop: sends up to the events queued when it starts, in up to
 * `maxConcurrentRequests` parallel workers, and decides each batch's fate from the collector's
 * answer (see `classifyOutcome`). `report()` then logs the pass once and calls the callback.
 */
export class SendPass {
  /** A batch failed in a way that is retried: the loop backs off. */
  failed = false;
  retryAfterMs = 0;
  /** Events put back for retry. */
  kept = 0;
  readonly successes: SendResult[] = [];
  readonly failures: SendResult[] = [];
  private budget: number;
  private split?: { status: number; size: number };
  private readonly deadLettered: Partial<Record<DropReason, number>> = {};
  private billingDeadLettered = 0;
  /** Events whose dead-letter lines could not be written: kept in the store, and why. */
  private unrecorded?: { count: number; error: string };

  /**
   * `billingOnly`: a pass for the billing lane alone, while custom events linger for a fuller batch
   * (stores lease billing events first, so a pass as large as that lane takes just them).
   */
  constructor(
    private readonly host: PassHost,
    private readonly billingOnly = false,
    /** At most this many events (0: no limit): a lingering batch's full batches, without the few over. */
    limit = 0,
  ) {
    const { storage, options } = host;
    if (billingOnly) {
      this.budget = storage.sizeOf('billing');
      return;
    }
    this.budget = Math.max(storage.size, options.batchSize);
    // Rows other instances committed are not counted: a pass may take up to its full width of them.
    if (storage.mayHaveMore) this.budget = Math.max(this.budget, options.maxBatchSize * options.maxConcurrentRequests);
    if (limit > 0) this.budget = Math.min(this.budget, limit);
  }

  async run(): Promise<this> {
    if (!(await this.host.settlement.retry())) {
      this.failed = true;
      return this;
    }
    const workers: Array<Promise<void>> = [];
    // A store other writers fill may hold rows this instance has not counted: every worker looks
    // (each leases with SKIP LOCKED; one that finds nothing ends).
    const { storage } = this.host;
    for (let i = 0; i < this.host.options.maxConcurrentRequests; i++) {
      if (this.billingOnly ? storage.sizeOf('billing') === 0 : storage.size === 0 && !storage.mayHaveMore) break;
      workers.push(this.worker());
    }
    await Promise.allSettled(workers);
    return this;
  }

  /** One log line per kind of trouble in this pass, then the callback. */
  report(): void {
    const { log, options } = this.host;
    if (this.split) {
      log.warn(
        `the collector answered HTTP ${this.split.status} to a batch of ${this.split.size} events; ` +
          'batches were halved to find the events it refuses',
      );
    }
    const reasons = Object.entries(this.deadLettered);
    if (reasons.length > 0) {
      const total = reasons.reduce((sum, [, n]) => sum + (n ?? 0), 0);
      const where = this.host.storage.deadLetter
        ? ` to the dead-letter table of ${this.host.storage.location}`
        : options.deadLetter
          ? ` to ${options.deadLetter.path}`
          : '';
      const message =
        `${total} events will never be delivered (${reasons.map(([r, n]) => `${r}: ${n}`).join(', ')}` +
        `${this.billingDeadLettered ? `; ${this.billingDeadLettered} billing` : ''}); dead-lettered${where}`;
      if (this.billingDeadLettered > 0) log.error(message);
      else log.warn(message);
    }
    if (this.unrecorded) {
      const where = this.host.storage.deadLetter ? this.host.storage.location : options.deadLetter?.path;
      log.error(
        `${this.unrecorded.count} events could not be dead-lettered to ${where} ` +
          `(${this.unrecorded.error}); they stay in the outbox and are tried again after a backoff`,
      );
    }
    const last = this.failures[this.failures.length - 1];
    if (this.failed && last && (this.kept > 0 || !this.unrecorded)) {
      log.warn(
        `sending to ${options.collectorUrl} failed (${last.error ? last.error.message : `HTTP ${last.statusCode}`}); ` +
          `${this.kept} events kept for retry`,
      );
    }
    const callback = options.callback;
    if (!callback || (this.successes.length === 0 && this.failures.length === 0)) return;
    const callbackFailed = (err: unknown) => log.error(`callback threw: ${errorMessage(err)}`);
    try {
      const returned = callback(this.successes, this.failures);
      if (returned && typeof (returned as Promise<void>).catch === 'function')
        (returned as Promise<void>).catch(callbackFailed);
    } catch (err) {
      callbackFailed(err);
    }
  }

  private async worker(): Promise<void> {
    const { storage, options, state, settlement, log } = this.host;
    const maxBytes = options.maxBatchBytes - ENVELOPE_BYTES;
    while (!this.failed && !state.stopped && this.budget > 0) {
      let batch: QueuedEvent[];
      try {
        const count = Math.min(this.batchSizeNow(), this.budget);
        // The billing lane emptied meanwhile (another worker took the rest): never a custom event.
        if (count === 0) return;
        // Taken from the budget before the lease's await: a worker that starts meanwhile (an async
        // store's `sizeOf` still counts these rows) leases only what is left, so a billing-only
        // pass never leases more rows than the billing lane held (the rest would be custom ones).
        this.budget -= count;
        const leased = storage.lease(count, maxBytes);
        batch = leased instanceof Promise ? await leased : leased;
        this.budget += count - batch.length;
      } catch (err) {
        settlement.failed('lease', 'take events from', err);
        this.failed = true;
        return;
      }
      if (batch.length === 0) return;
      state.inFlight += batch.length;
      try {
        await this.send(batch);
      } catch (err) {
        // Whatever failed (a custom token source, observer or logger), the events are kept.
        log.error(`sending a batch failed unexpectedly: ${errorMessage(err)}; its events are kept for retry`);
        this.failed = true;
        await settlement.release(batch);
      } finally {
        state.inFlight -= batch.length;
      }
    }
  }

  /** `batchSize` while at most one batch waits; with more, batches grow up to `maxBatchSize`. */
  private batchSizeNow(): number {
    const { batchSize, maxBatchSize } = this.host.options;
    const { storage } = this.host;
    if (this.billingOnly) return Math.min(maxBatchSize, storage.sizeOf('billing'));
    // Uncounted rows of other writers may be a backlog: lease as for one (the store returns what there is).
    if (storage.mayHaveMore) return maxBatchSize;
    const waiting = storage.size;
    return waiting > batchSize ? Math.min(maxBatchSize, waiting) : batchSize;
  }

  private async send(batch: QueuedEvent[]): Promise<void> {
    const { options, state, settlement } = this.host;
    let outcome = await this.post(batch);
    if ((outcome.statusCode === 401 || outcome.statusCode === 403) && options.tokenSource && !state.stopped) {
      options.tokenSource.invalidate?.();
      await this.renewLeases(batch);
      outcome = await this.post(batch);
    }
    const status = outcome.statusCode;
    const result: SendResult = { eventCount: batch.length, statusCode: status, eids: batch.map((e) => e.eid) };
    if (outcome.error) result.error = outcome.error;
    const verdict = classifyOutcome(status, batch.length, options);
    if (verdict.action === 'split') {
      this.split ??= { status, size: batch.length };
      const half = Math.ceil(batch.length / 2);
      await this.renewLeases(batch);
      await this.send(batch.slice(0, half));
      await this.renewLeases(batch.slice(half));
      await this.send(batch.slice(half));
      return;
    }
    const delivered = verdict.action === 'deliver';
    (delivered ? this.successes : this.failures).push(result);
    this.host.observe((o) => o.eventsSent(delivered ? 'success' : 'failure', batch.length));
    if (delivered) {
      await settlement.ack(batch);
      state.sent += batch.length;
      state.consecutiveFailures = 0;
      state.lastSuccessAt = Date.now();
      this.host.log.recovered();
      return;
    }
    state.lastError = outcome.error ? outcome.error.message : `HTTP ${status}`;
    if (verdict.action === 'dead-letter') {
      await this.giveUp(batch, verdict.reason, { statusCode: status, error: `the collector answered HTTP ${status}` });
      return;
    }
    state.consecutiveFailures++;
    if (verdict.hint) this.hint(verdict.hint, outcome);
    this.failed = true;
    if (outcome.retryAfterMs !== undefined) {
      this.retryAfterMs = Math.max(this.retryAfterMs, Math.min(outcome.retryAfterMs, options.maxRetryAfterMs));
    }
    this.kept += await this.requeue(batch, outcome);
  }

  /**
   * Before a further request for events already sent once in this pass: their lease is extended
   * (a store whose leases run out), so that another instance never takes them meanwhile. A refusal
   * is reported and the batch goes on: the lease may still be long enough.
   */
  private async renewLeases(events: QueuedEvent[]): Promise<void> {
    const { storage, settlement } = this.host;
    if (!storage.renewLeases) return;
    try {
      await storage.renewLeases(events);
    } catch (err) {
      settlement.failed('lease', 'extend the lease of a batch in', err);
    }
  }

  /** Every request that carries an event is one of its attempts (a split batch's re-sends too). */
  private async post(batch: QueuedEvent[]): Promise<PostOutcome> {
    for (const event of batch) event.attempts++;
    const outcome = await this.host.client.post(serialiseBatch(batch, Date.now()), this.host.abort);
    const result = outcome.statusCode >= 200 && outcome.statusCode < 300 ? 'success' : 'failure';
    this.host.observe((o) => o.requestFinished(result, outcome.durationSeconds));
    return outcome;
  }

  /**
   * Puts a failed batch back at the end of its lanes (their attempts counted by `post`), giving up
   * events past maxAttempts or maxEventAgeMs; returns how many it kept. A request aborted by
   * `stop()` is not an attempt.
   */
  private async requeue(batch: QueuedEvent[], outcome: PostOutcome): Promise<number> {
    const { options, state, settlement } = this.host;
    if (outcome.error?.code === 'ABORTED' && state.stopped) {
      for (const event of batch) event.attempts = Math.max(0, event.attempts - 1);
      await settlement.release(batch);
      return batch.length;
    }
    const { maxAttempts, maxEventAgeMs } = options;
    const now = Date.now();
    const keep: QueuedEvent[] = [];
    const expired: QueuedEvent[] = [];
    for (const event of batch) {
      const tooOld =
        (maxAttempts !== undefined && event.attempts >= maxAttempts) ||
        (maxEventAgeMs !== undefined && now - event.dtm > maxEventAgeMs);
      (tooOld ? expired : keep).push(event);
    }
    const error = outcome.error ? outcome.error.message : `the collector answered HTTP ${outcome.statusCode}`;
    const detail: LossDetail = { error: `expired after ${expired[0]?.attempts ?? 0} attempts; last: ${error}` };
    if (outcome.statusCode !== -1) detail.statusCode = outcome.statusCode;
    await this.giveUp(expired, 'expired', detail);
    await settlement.release(keep);
    return keep.length;
  }

  /**
   * Dead-letters (or logs) the events, then removes them from the store: never the other way round.
   * A store with a dead-letter record of its own (PostgreSQL's dead-letter table) moves them there
   * and removes them in one transaction; the dead-letter file, when set, is then an extra copy.
   * When their record cannot be written, they stay: released, and the loop backs off.
   */
  private async giveUp(events: QueuedEvent[], reason: DropReason, detail: LossDetail): Promise<void> {
    if (events.length === 0) return;
    const { storage, losses, settlement } = this.host;
    if (storage.deadLetter) {
      try {
        await storage.deadLetter(events, { reason, ...detail });
      } catch (err) {
        settlement.failed('dead_letter', 'move given-up events to the dead-letter table of', err);
        this.unrecorded = { count: (this.unrecorded?.count ?? 0) + events.length, error: errorMessage(err) };
        this.failed = true;
        await settlement.release(events);
        return;
      }
      this.billingDeadLettered += losses.givenUpToStore(events, reason, detail);
      this.deadLettered[reason] = (this.deadLettered[reason] ?? 0) + events.length;
      return;
    }
    const { billing, writeFailure } = losses.giveUpLeased(events, reason, detail);
    if (writeFailure !== undefined) {
      this.unrecorded = { count: (this.unrecorded?.count ?? 0) + events.length, error: writeFailure };
      this.failed = true;
      await settlement.release(events);
      return;
    }
    this.billingDeadLettered += billing;
    this.deadLettered[reason] = (this.deadLettered[reason] ?? 0) + events.length;
    await settlement.ack(events);
  }

  private hint(hint: RetryHint, outcome: PostOutcome): void {
    const { log, options, state } = this.host;
    const status = outcome.statusCode;
    switch (hint) {
      case 'redirect':
        log.hint(
          'redirect',
          'error',
          () =>
            `the collector answered HTTP ${status} redirecting to ${outcome.location ?? '(no Location header)'}; ` +
            'redirects are not followed, so the events are kept and retried: set collectorUrl to the final tp2 endpoint',
        );
        return;
      case 'not_found':
        log.hint(
          'not_found',
          'error',
          () =>
            `the collector answered HTTP 404 at ${options.collectorUrl}: check the collector path ` +
            `(Snowplow collectors take batches at ${TP2_PATH}); the events are kept and retried`,
        );
        return;
      case 'auth':
        state.authFailures++;
        this.host.observe((o) => o.authFailed());
        log.every(
          'auth',
          AUTH_LOG_INTERVAL_MS,
          'error',
          () =>
            `authentication with the collector is failing (HTTP ${status}` +
            `${options.tokenSource ? ' after a token refresh' : ''}); the events are kept and retried`,
        );
    }
  }
}
