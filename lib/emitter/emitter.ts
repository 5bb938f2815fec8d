import { inspect } from 'node:util';
import axios from 'axios';
import { DeadLetterFile } from '../dead-letter/dead-letter-file';
import { EmitterStoppedError, EventTooLargeError, StorageBufferFullError } from '../errors';
import { createStorage, EventStorage, isEventStorage, QueuedEvent } from '../storage';
import { CustomEventPayload } from '../tracker/custom-event';
import { EventPayload } from '../tracker/event';
import { bodyBytes, CommitOutcome, EnqueueOptions, EventSink, NOT_DURABLE, TrackedPayload } from '../tracker/payload';
import type { TransactionLike } from '../tracker/transaction';
import { transactionSink } from './transaction-sink';
import { onBeforeExit } from '../utils/exit-hooks';
import { Backoff } from './backoff';
import { ENVELOPE_BYTES } from './batch-body';
import { CollectorClient } from './collector-client';
import { EmitterLog, errorMessage } from './emitter-log';
import { EmitterOptions, parseCollectorUrl, ResolvedEmitterOptions, resolveEmitterOptions } from './emitter-options';
import { EmitterState, snapshotStats } from './emitter-state';
import { IdleWaiters } from './idle-waiters';
import { LoopSignal } from './loop-signal';
import { Losses } from './losses';
import { PassHost, SendPass } from './send-pass';
import { DrainResult, EmitterObserver, EmitterStats } from './send-result';
import { Settlement } from './settlement';
import { accountForLeftovers, closeOwned, LEFTOVER_AT_STOP, ShutdownParts } from './shutdown';
import { StorageFailures } from './storage-failures';
import { BillingIntakeParts, takeBilling } from './billing-intake';
import { SnowplowEmitter } from './snowplow-emitter';
import { CorrelationIdDrops } from './correlation-id-drops';
import { drainAtExit } from './exit-drain';

/** How often a loop that found nothing to lease looks again. */
const IDLE_RECHECK_MS = 1_000;

const enqueuedOne = (observer: EmitterObserver): void => observer.eventsEnqueued(1);

/**
 * Queues events and sends them to the collector in batches from one background loop.
 *
 * Billing events wait in a lane of their own and are sent first. Failures are retried with
 * exponential backoff and full jitter; Retry-After is honoured; 413, 400 and 422 halve the batch
 * until the events the collector refuses stand alone; events that will never be delivered are
 * counted, and dead-lettered when `deadLetter` is set. Nothing here throws into the caller except
 * `enqueue`: a stopped emitter, an oversized event, and, with a durable store, a billing event
 * that cannot be committed (a `StorageError` subclass; see `enqueue`).
 *
 * @example
 * ```ts
 * const emitter = new Emitter({
 *   collectorUrl: 'https://collector.example.com/com.snowplowanalytics.snowplow/tp2',
 *   storage: { type: 'sqlite', path: './snowplow-outbox.db' },
 *   deadLetter: { path: './snowplow-dead-letters.jsonl' },
 * });
 * emitter.start();
 * new Tracker({ appId: 'worker', emitter }).trackEvent('job_done');
 * await emitter.drain(10_000);
 * await emitter.stop();
 * ```
 */
export class Emitter implements SnowplowEmitter {
  /** The options in effect, defaults filled in (the collector URL's user part and query values masked). */
  readonly options: ResolvedEmitterOptions;
  private readonly storage: EventStorage;
  private readonly ownsStorage: boolean;
  private readonly state = new EmitterState();
  private readonly log: EmitterLog;
  private readonly correlationIdDrops: CorrelationIdDrops;
  private readonly losses: Losses;
  private readonly settlement: Settlement;
  private readonly storageFailures: StorageFailures;
  private readonly deadLetters?: DeadLetterFile;
  private readonly host: PassHost;
  private readonly backoff: Backoff;
  private readonly signal = new LoopSignal();
  private readonly abort = new AbortController();
  private loop?: Promise<void>;
  private stopping?: Promise<void>;
  /** Waiting for a fuller batch (see `lingerMs`, `maxLingerMs`): `enqueue` wakes the loop at `lingerCount` events. */
  private lingering = false;
  private lingerCount = 0;
  /** A billing event wakes the lingering loop (under sustained load, to leave at once on its own). */
  private lingerBilling = false;
  /**
   * When the last batch that reached `batchSize` before `lingerMs` ran out left (0: the last one did
   * not). A next batch whose first event came within `maxLingerMs` of it may wait up to `maxLingerMs`.
   */
  private lastFilledAt = 0;
  /** When the first event queued since the last send pass began was queued (0: none yet). */
  private firstQueuedAt = 0;
  /** Body bytes of the events queued since the last send pass began. */
  private queuedBytes = 0;
  /** The next send pass takes at most this many events (0: all that wait): full batches only. */
  private passLimit = 0;
  /** `flush()` calls so far: a lingering loop that sees a new one stops waiting. */
  private flushes = 0;
  /** drain() calls under way: no lingering meanwhile. */
  private draining = 0;
  private readonly idleWaiters = new IdleWaiters();
  private unregisterBeforeExit?: () => void;
  private unsubscribeCommitted?: () => void;
  /** Set once the process's end started a drain (it runs once). */
  private exitDrain?: Promise<void>;
  /** Why events left at stop were not delivered (the dead-letter `error`). */
  private leftoverError = LEFTOVER_AT_STOP;

  constructor(options: EmitterOptions) {
    this.options = resolveEmitterOptions(options, ENVELOPE_BYTES);
    const { capacity, billingCapacity, requestTimeoutMs } = this.options;
    // Built from the option as given: the resolved options show a connection string masked.
    const storage = options.storage;
    this.ownsStorage = !isEventStorage(storage);
    this.storage = isEventStorage(storage)
      ? storage
      : createStorage(storage, capacity, billingCapacity, requestTimeoutMs);
    this.log = new EmitterLog(this.options.logger);
    this.correlationIdDrops = new CorrelationIdDrops(this.log, this.options.maxEventBytes);
    if (this.options.deadLetter)
      this.deadLetters = new DeadLetterFile(this.options.deadLetter.path, {
        logger: this.log,
        onWriteFailure: (count) => this.observe((o) => o.deadLetterWriteFailed?.(count)),
      });
    this.losses = new Losses(this.log, (call) => this.observe(call), this.deadLetters, this.storage.durable);
    this.storageFailures = new StorageFailures(this.log, (call) => this.observe(call), this.losses);
    this.storage.onFailure?.(this.storageFailures);
    this.settlement = new Settlement(this.storage, {
      storageFailed: (op, what, err) => this.storageFailures.record(op, what, err),
      overwritten: (count) => this.losses.overwritten(count),
    });
    this.backoff = new Backoff(this.options.backoff);
    const client = new CollectorClient({
      url: parseCollectorUrl(options.collectorUrl),
      http: this.options.httpClient ?? axios.create(),
      maxSockets: this.options.maxConcurrentRequests,
      timeoutMs: this.options.requestTimeoutMs,
      tokenSource: this.options.tokenSource,
      audience: this.options.audience,
    });
    this.host = {
      options: this.options,
      storage: this.storage,
      settlement: this.settlement,
      client,
      losses: this.losses,
      log: this.log,
      state: this.state,
      abort: this.abort.signal,
      observe: (call) => this.observe(call),
    };
  }

  /** What `JSON.stringify`, `String()` and `util.inspect` show: never the URL's credentials or a token. */
  toJSON(): { collectorUrl: string; stats: EmitterStats } {
    return { collectorUrl: this.options.collectorUrl, stats: this.stats() };
  }

  /** The class and the collector URL, its user part and query values masked. */
  toString(): string {
    return `${this.constructor.name}(${this.options.collectorUrl})`;
  }

  /** What `util.inspect` prints: `toJSON()`, never a credential. */
  [inspect.custom](): string {
    return `${this.constructor.name} ${inspect(this.toJSON(), { depth: 4 })}`;
  }

  /** The collector URL with its user part and query values masked. */
  get collectorUrl(): string {
    return this.options.collectorUrl;
  }

  /** Events waiting to be sent (not in flight), both lanes. */
  get queueDepth(): number {
    return this.storage.size + this.settlement.held.length;
  }

  /** False while the event store cannot be reached (a PostgreSQL outage); memory and SQLite always are. */
  get storeReachable(): boolean {
    return this.storage.reachable !== false;
  }

  /** Capacity of the custom lane. */
  get capacity(): number {
    return this.storage.capacity;
  }

  /** True once `stop()` was called. */
  get isStopped(): boolean {
    return this.state.stopped;
  }

  /** A snapshot: queued per lane, in flight, sent, dropped by reason and kind, last error. */
  stats(): EmitterStats {
    return snapshotStats(this.state, this.storage, this.settlement.held, this.losses, this.storageFailures.count);
  }

  /**
   * Starts the send loop (idempotent). Events added before are kept and sent once it runs. Should
   * the process then reach its natural end (`beforeExit`) with events not yet sent, and no
   * `stop()` called, they are sent for up to `exitDrainTimeoutMs` before the emitter stops.
   */
  start(): void {
    if (this.loop || this.state.stopped) return;
    this.unregisterBeforeExit = onBeforeExit(() => this.drainAtExit());
    // A store other instances write too (PostgreSQL's LISTEN/NOTIFY) wakes the loop on their commits.
    this.unsubscribeCommitted = this.storage.onCommitted?.(() => this.signal.notifyData());
    this.loop = this.run();
  }

  /**
   * Stores the event and wakes the send loop. Throws `EmitterStoppedError` after stop and
   * `EventTooLargeError` if oversized. With a durable store, a billing event is committed when
   * this returns (its row, or its `overflow` dead-letter line when the billing lane is full); when
   * it cannot be, this throws a `StorageError` naming the cause (`StorageFullError`,
   * `StorageIoError`, `StorageBusyError`, `BillingQueueFullError`) and nothing is queued, unless
   * `options.whenNotCommitted` is `'hold'`: then the event is held in memory, its payload logged,
   * and `options.onHeld` told the error. In memory, a billing event past the lane's capacity is dead-lettered
   * (counted as `overflow`), never dropped silently.
   */
  enqueue(payload: TrackedPayload, options?: EnqueueOptions): Promise<CommitOutcome> {
    if (this.state.stopped) throw new EmitterStoppedError();
    const bytes = payload.bytes ?? bodyBytes(payload.json);
    if (bytes > this.options.maxEventBytes) throw new EventTooLargeError(bytes, this.options.maxEventBytes);
    if (this.firstQueuedAt === 0) this.firstQueuedAt = Date.now();
    this.queuedBytes += bytes;
    // The tracker's events but billing ones are queued as they are: they write their payload text
    // only when read (sent, or written to a durable store).
    const event: QueuedEvent =
      payload instanceof CustomEventPayload || payload instanceof EventPayload
        ? payload
        : { kind: payload.kind, eid: payload.eid, dtm: payload.dtm, json: payload.json, bytes, attempts: 0 };
    let overwritten = 0;
    let committed: Promise<CommitOutcome> | undefined;
    if (event.kind === 'billing') {
      const taken = takeBilling(this.billingParts(), event, options);
      overwritten = taken.overwritten;
      committed = taken.committed;
    } else {
      try {
        overwritten = this.storage.add(event);
        committed = this.storage.lastCommit?.();
      } catch (err) {
        // A full write-behind buffer (a database outage) must be heard at once: memory is bounded too.
        if (err instanceof StorageBufferFullError) {
          this.storageFailures.record('commit', 'write a tracked event to', err);
          throw err;
        }
        // Custom events promise no more than memory: held here and written again before the next lease.
        this.settlement.hold([event], 'write a tracked event to', err);
      }
    }
    this.countEnqueued();
    if (overwritten > 0) this.losses.overwritten(overwritten);
    // A billing event never waits out the latency budget; custom events wake a lingering loop once it is full.
    if (this.lingering && ((this.lingerBilling && event.kind === 'billing') || this.batchFilled(this.lingerCount)))
      this.signal.wake();
    this.signal.notifyData();
    return committed ?? NOT_DURABLE;
  }

  /**
   * A sink that writes each event through the caller's open transaction `tx` (the PostgreSQL
   * store only; see `Tracker.inTransaction`). Throws a `StorageError` for other stores.
   */
  inTransaction(tx: TransactionLike): EventSink {
    const state = this.state;
    return transactionSink(
      {
        storage: this.storage,
        maxEventBytes: this.options.maxEventBytes,
        get stopped() {
          return state.stopped;
        },
        written: () => this.countEnqueued(),
        correlationIdDropped: (eid, length) => this.correlationIdDropped(eid, length),
      },
      tx,
    );
  }

  /** The largest event `enqueue` accepts, body bytes: the tracker fits a billing event's correlation id to it. */
  get maxEventBytes(): number {
    return this.options.maxEventBytes;
  }

  /** Counts a correlation id the tracker dropped to fit `maxEventBytes` (`event_too_large`); logs the first. */
  correlationIdDropped(eid: string, length: number): void {
    this.observe((observer) => observer.correlationIdRejected?.('event_too_large'));
    this.correlationIdDrops.dropped(eid, length);
  }

  private countEnqueued(): void {
    this.state.enqueued++;
    if (this.options.observer) this.observe(enqueuedOne);
  }

  /** Wakes the loop now, cutting a backoff sleep short (not a Retry-After). Returns at once. */
  flush(): void {
    this.flushes++;
    this.signal.notifyFlush();
  }

  /**
   * Resolves when nothing is queued or in flight, or when `timeoutMs` passes, with how many events
   * the collector accepted meanwhile and how many remain. Starts the loop if needed.
   */
  async drain(timeoutMs: number): Promise<DrainResult> {
    const sentBefore = this.state.sent;
    const result = (drained: boolean): DrainResult => ({
      sent: this.state.sent - sentBefore,
      remaining: this.queueDepth + this.state.inFlight,
      drained,
    });
    // A shared store's rows committed a moment ago (a NOTIFY still on its way) are looked for too.
    if (!this.state.stopped) this.storage.lookAgain?.();
    if (this.isIdle()) return result(true);
    if (this.state.stopped) return result(false);
    this.start();
    this.draining++;
    this.flush();
    const woken = await this.idleWaiters.wait(timeoutMs).finally(() => this.draining--);
    return result(woken && this.isIdle());
  }

  /**
   * Aborts in-flight requests (their events stay queued), waits for the loop to end and releases
   * sockets and files. What is still queued then is kept in a durable store for the next start;
   * in memory it is counted as dropped (`shutdown`), logged, and dead-lettered when `deadLetter`
   * is set. Safe to call twice.
   */
  stop(): Promise<void> {
    if (!this.stopping) {
      this.state.stopped = true;
      this.unregisterBeforeExit?.();
      this.unsubscribeCommitted?.();
      this.abort.abort();
      this.signal.notifyFlush();
      this.stopping = (this.loop ?? Promise.resolve()).then(async () => {
        try {
          await this.settlement.retry();
          await accountForLeftovers(this.shutdownParts(), this.leftoverError);
        } catch (err) {
          this.log.error(`accounting for the events left at stop failed: ${errorMessage(err)}`);
        }
        this.host.client.close();
        await closeOwned(this.shutdownParts());
        this.idleWaiters.wakeAll();
      });
    }
    return this.stopping;
  }

  /** `beforeExit` of a script that never called `drain()` or `stop()` (see `drainAtExit`). Runs once. */
  private drainAtExit(): void {
    if (this.exitDrain || this.state.stopped || this.isIdle()) return;
    this.exitDrain = drainAtExit({
      log: this.log,
      timeoutMs: this.options.exitDrainTimeoutMs,
      waiting: this.queueDepth + this.state.inFlight,
      drain: (timeoutMs) => this.drain(timeoutMs),
      stop: (reason) => {
        this.leftoverError = reason;
        return this.stop();
      },
    });
  }

  private billingParts(): BillingIntakeParts {
    const { storage, losses, settlement, storageFailures, log } = this;
    return { storage, losses, settlement, storageFailures, log };
  }

  private shutdownParts(): ShutdownParts {
    const { storage, ownsStorage, settlement, losses, log, deadLetters } = this;
    return { storage, ownsStorage, settlement, losses, log, deadLetters };
  }

  /**
   * Nothing queued or in flight, and no rows a shared store may hold that the relay has not looked
   * for. Held acks are not waited for: their events were delivered.
   */
  private isIdle(): boolean {
    return this.queueDepth === 0 && this.state.inFlight === 0 && !this.storage.mayHaveMore;
  }

  /** The send loop. It never rejects: anything unexpected is logged and the loop backs off. */
  private async run(): Promise<void> {
    while (!this.state.stopped) {
      // Held acks are retried even with nothing queued: a database store still lists those events.
      if (this.nothingToSend()) {
        this.wakeDrainersIfIdle();
        // A store other processes also fill is looked at again now and then; otherwise new
        // events wake the loop.
        await this.signal.wait(true, this.storage.pollIntervalMs);
        continue;
      }
      // A billing pass that failed while custom events lingered: back off as after any failed pass.
      const failedBilling = await this.linger();
      if (this.state.stopped) break;
      // Billing events sent while lingering may have been all there was.
      if (failedBilling === undefined && this.nothingToSend()) continue;
      const pass = failedBilling === undefined ? await this.runPass(false) : failedBilling;
      if (this.state.stopped) break;
      // A failed pass may have settled everything (the last events given up): drain() need not
      // wait out the backoff that follows.
      this.wakeDrainersIfIdle();
      if (!pass || pass.failed) {
        this.lastFilledAt = 0;
        await this.signal.sleepAfterFailure(this.backoff.next(), pass?.retryAfterMs ?? 0, () => this.state.stopped);
      } else if (pass.successes.length > 0) {
        this.backoff.reset();
      } else if (pass.failures.length === 0) {
        // Nothing could be leased although the storage reports events (a shared durable store
        // whose events another process holds): wait for news instead of spinning.
        await this.signal.wait(true, IDLE_RECHECK_MS);
      }
    }
  }

  /** Nothing queued, no held acks to retry (a database store still lists those events), no rows of others. */
  private nothingToSend(): boolean {
    return this.queueDepth === 0 && !this.settlement.acksHeld && !this.storage.mayHaveMore;
  }

  private wakeDrainersIfIdle(): void {
    if (this.isIdle()) this.idleWaiters.wakeAll();
  }

  /**
   * One send pass (`billingOnly`: the billing lane alone). Null when it threw (logged): the loop
   * backs off as after a failed pass.
   */
  private async runPass(billingOnly: boolean): Promise<SendPass | null> {
    const limit = billingOnly ? 0 : this.passLimit;
    if (!billingOnly) {
      this.passLimit = 0;
      // Events queued from now on make the next batch: its latency budget counts from the first
      // (or from now, for events left over by a pass that sends only full batches).
      this.firstQueuedAt = limit > 0 && this.queueDepth > limit ? Date.now() : 0;
      this.queuedBytes = 0;
      this.signal.consumeFlush();
    }
    try {
      const pass = await new SendPass(this.host, billingOnly, limit).run();
      this.losses.countEvictions(this.storage);
      pass.report();
      return pass;
    } catch (err) {
      this.log.error(`send loop error: ${errorMessage(err)}`);
      return null;
    }
  }

  /**
   * Waits for a fuller batch. labkit's contract first: less than `batchSize` waits up to `lingerMs`
   * for more. Under sustained load (the previous batch reached `batchSize` within `lingerMs`, this
   * one's first event came within `maxLingerMs` of its leaving, and this one reached `batchSize` within
   * `lingerMs` too), the batch then waits on for up to `maxLingerMs` from its first event to fill up
   * to `maxBatchSize` or `maxBatchBytes`. (The queue may empty between batches: events that arrive
   * in bursts, each answered before the next, are a sustained load too.) A flush, drain or stop
   * ends any wait; billing events that arrive meanwhile leave at once in passes of their own.
   * Returns such a pass if it failed (null if it threw), undefined otherwise.
   */
  private async linger(): Promise<SendPass | null | undefined> {
    const { lingerMs, maxLingerMs, batchSize, maxBatchSize } = this.options;
    const start = Date.now();
    const flushes = this.flushes;
    const failed = await this.lingerUntil(batchSize, start + lingerMs, flushes, false);
    if (failed !== undefined) return failed;
    const previous = this.lastFilledAt;
    if (!this.batchFilled(batchSize) || this.mustSendNow(flushes)) {
      this.lastFilledAt = 0;
      return undefined;
    }
    const first = this.firstQueuedAt || start;
    // A pause of up to the budget between batches (bursts, a GC, a slow request) keeps the load sustained.
    const sustained = previous !== 0 && first - previous <= maxLingerMs;
    // Rows of other instances are not counted in the queue: a shared store's batches are not held back.
    if (sustained && maxLingerMs > 0 && maxBatchSize > batchSize && !this.storage.mayHaveMore) {
      const failedBilling = await this.lingerUntil(maxBatchSize, first + maxLingerMs, flushes, true);
      if (failedBilling !== undefined) return failedBilling;
      // Filled (events tracked a few at once overshoot a little): full batches leave, and what is
      // over waits for the next one instead of leaving in a request of its own.
      const full = Math.floor(this.queueDepth / maxBatchSize) * maxBatchSize;
      if (full > 0 && !this.mustSendNow(flushes)) this.passLimit = full;
    }
    this.lastFilledAt = Date.now();
    return undefined;
  }

  /**
   * Waits until `count` events (or a full request body) wait, `deadline` passes, or nothing may
   * wait. `billingAlone`: billing events that arrive meanwhile leave at once in passes of their own
   * (the latency budget is for custom events only); otherwise they wait with the batch, as labkit's do.
   */
  private async lingerUntil(
    count: number,
    deadline: number,
    flushes: number,
    billingAlone: boolean,
  ): Promise<SendPass | null | undefined> {
    for (;;) {
      if (this.queueDepth === 0 || this.mustSendNow(flushes) || this.batchFilled(count)) return undefined;
      const left = deadline - Date.now();
      if (left <= 0) return undefined;
      if (billingAlone && this.storage.sizeOf('billing') > 0) {
        const pass = await this.runPass(true);
        if (!pass || pass.failed) return pass;
        if (pass.successes.length > 0) this.backoff.reset();
        this.wakeDrainersIfIdle();
        continue;
      }
      this.lingerCount = count;
      this.lingerBilling = billingAlone;
      this.lingering = true;
      try {
        await this.signal.wait(false, left);
      } finally {
        this.lingering = false;
      }
    }
  }

  /** `count` events wait, or more than fits in one request body. */
  private batchFilled(count: number): boolean {
    return this.queueDepth >= count || this.queuedBytes > this.options.maxBatchBytes - ENVELOPE_BYTES;
  }

  /** A flush, drain or stop wants the queue sent now. */
  private mustSendNow(flushes: number): boolean {
    return this.state.stopped || this.draining > 0 || this.flushes !== flushes || this.signal.flushRequested;
  }

  /** Metrics hooks must not throw; if a custom one does, sending goes on regardless. */
  private observe(call: (observer: EmitterObserver) => void): void {
    const observer = this.options.observer;
    if (!observer) return;
    try {
      call(observer);
    } catch (err) {
      this.log.error(`metrics observer threw: ${errorMessage(err)}`);
    }
  }
}
