import { Agent as HttpAgent } from 'node:http';
import { inspect } from 'node:util';
import { Agent as HttpsAgent } from 'node:https';
import axios from 'axios';
import { EmitterStoppedError, EventTooLargeError } from '../errors';
import { createStorage, EventStorage, isEventStorage, QueuedEvent } from '../storage';
import { EventSink, SCHEMAS, TrackedPayload } from '../tracker';
import { clampTimeout, redactUrl } from '../utils';
import { Backoff } from './backoff';
import { CollectorClient, PostOutcome } from './collector-client';
import { EmitterOptions, envelopeBytes, ResolvedEmitterOptions, resolveEmitterOptions } from './emitter-options';
import { LoopSignal } from './loop-signal';
import { DrainResult, DropReason, EmitterLogger, EmitterObserver, EmitterStats, SendResult } from './send-result';

const ENVELOPE_HEAD = `{"schema":"${SCHEMAS.payloadData}","data":[`;
const ENVELOPE_TAIL = ']}';
const ENVELOPE_BYTES = envelopeBytes(SCHEMAS.payloadData);
/** `"stm":"<13 digits>",` added to each event on send, plus the comma between events. */
const PER_EVENT_OVERHEAD = Buffer.byteLength('"stm":"0000000000000",') + 1;

/** How often a loop that found nothing to lease looks again. */
const IDLE_RECHECK_MS = 1_000;

const consoleLogger: EmitterLogger = {
  warn: (message) => console.warn(`[nestjs-snowplow] ${message}`),
  error: (message) => console.error(`[nestjs-snowplow] ${message}`),
};

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** A throwing custom logger must not break the send loop. */
function safeLog(log: () => void): void {
  try {
    log();
  } catch {
    // Nothing left to report it to.
  }
}


/** Serialises a batch: the payload_data envelope with `stm` set on every event. */
export function serialiseBatch(events: readonly QueuedEvent[], stm: number): string {
  const stmField = `{"stm":"${stm}",`;
  let body = ENVELOPE_HEAD;
  for (let i = 0; i < events.length; i++) {
    body += (i === 0 ? stmField : `,${stmField}`) + events[i].json.slice(1);
  }
  return body + ENVELOPE_TAIL;
}

/** What one loop pass sent, for the callback and the backoff decision. */
interface Pass {
  budget: number;
  failed: boolean;
  retryAfterMs: number;
  /** Events put back for retry. */
  kept: number;
  successes: SendResult[];
  failures: SendResult[];
}

/**
 * Queues events and sends them to the collector in batches from one background loop.
 *
 * Failures are retried with exponential backoff and full jitter; Retry-After is honoured; 413
 * splits the batch; statuses in `dontRetryStatusCodes` drop the batch as rejected. Nothing here
 * ever throws into the caller except `addAsync` (stopped emitter, oversized event).
 */
export class Emitter implements EventSink {
  readonly options: ResolvedEmitterOptions;
  private readonly storage: EventStorage;
  private readonly ownsStorage: boolean;
  private readonly client: CollectorClient;
  private readonly logger: EmitterLogger;
  private readonly backoff: Backoff;
  private readonly signal = new LoopSignal();
  private readonly abort = new AbortController();
  private readonly httpAgent: HttpAgent;
  private readonly httpsAgent: HttpsAgent;
  private readonly safeUrl: string;
  private loop?: Promise<void>;
  private stopping?: Promise<void>;
  private stopped = false;
  private inFlight = 0;
  /** Waiting for a fuller batch (see `lingerMs`). */
  private lingering = false;
  /** drain() calls under way: no lingering meanwhile. */
  private draining = 0;
  private idleWaiters = new Set<() => void>();
  /** Acks and releases the storage refused (disk full, lock timeout), retried before the next lease. */
  private readonly unsettled = { acks: [] as QueuedEvent[], releases: [] as QueuedEvent[] };
  private readonly counters = {
    enqueued: 0,
    sent: 0,
    dropped: { overflow: 0, rejected: 0, too_large: 0, expired: 0 } as Record<DropReason, number>,
    consecutiveFailures: 0,
    lastSuccessAt: undefined as number | undefined,
    lastError: undefined as string | undefined,
  };

  constructor(options: EmitterOptions) {
    this.options = resolveEmitterOptions(options, ENVELOPE_BYTES);
    const { collectorUrl } = this.options;
    this.safeUrl = redactUrl(collectorUrl);
    const { storage } = this.options;
    this.ownsStorage = !isEventStorage(storage);
    this.storage = isEventStorage(storage) ? storage : createStorage(storage, this.options.capacity);
    this.storage.onOverflow = (count) => this.dropped('overflow', count);
    this.logger = this.options.logger ?? consoleLogger;
    this.backoff = new Backoff(this.options.backoff);
    const maxSockets = this.options.maxConcurrentRequests;
    this.httpAgent = new HttpAgent({ keepAlive: true, maxSockets });
    this.httpsAgent = new HttpsAgent({ keepAlive: true, maxSockets });
    this.client = new CollectorClient({
      url: collectorUrl,
      http: this.options.httpClient ?? axios.create(),
      agents: { httpAgent: this.httpAgent, httpsAgent: this.httpsAgent },
      timeoutMs: this.options.requestTimeoutMs,
      tokenSource: this.options.tokenSource,
      audience: this.options.audience,
    });
  }

  /** What `JSON.stringify` and `util.inspect` show: never the URL's password or any token. */
  toJSON(): { collectorUrl: string; stats: EmitterStats } {
    return { collectorUrl: this.safeUrl, stats: this.stats() };
  }

  [inspect.custom](): string {
    return `${this.constructor.name} ${inspect(this.toJSON(), { depth: 3 })}`;
  }

  /** The collector URL with any password masked. */
  get collectorUrl(): string {
    return this.safeUrl;
  }

  /** Events waiting to be sent (not in flight). */
  get queueDepth(): number {
    return this.storage.size + this.unsettled.releases.length;
  }

  get capacity(): number {
    return this.storage.capacity;
  }

  get isStopped(): boolean {
    return this.stopped;
  }

  stats(): EmitterStats {
    const c = this.counters;
    return {
      queued: this.queueDepth,
      inFlight: this.inFlight,
      capacity: this.storage.capacity,
      enqueued: c.enqueued,
      sent: c.sent,
      dropped: { ...c.dropped },
      lastSuccessAt: c.lastSuccessAt,
      lastError: c.lastError,
      consecutiveFailures: c.consecutiveFailures,
      stopped: this.stopped,
    };
  }

  /** Starts the send loop (idempotent). Events added before are kept and sent once it runs. */
  start(): void {
    if (this.loop || this.stopped) return;
    this.loop = this.run();
  }

  /** Stores the event and wakes the send loop. Throws `EmitterStoppedError` after stop, `EventTooLargeError` if oversized. */
  addAsync(payload: TrackedPayload): void {
    if (this.stopped) throw new EmitterStoppedError();
    const bytes = Buffer.byteLength(payload.json, 'utf8') + PER_EVENT_OVERHEAD;
    if (bytes > this.options.maxEventBytes) throw new EventTooLargeError(bytes, this.options.maxEventBytes);
    const overwritten = this.storage.add({ eid: payload.eid, dtm: payload.dtm, json: payload.json, bytes, attempts: 0 });
    this.counters.enqueued++;
    if (this.lingering && this.storage.size >= this.options.batchSize) this.signal.wake();
    const observer = this.options.observer;
    if (observer) {
      try {
        observer.eventsEnqueued(1);
      } catch (err) {
        this.log('error', `metrics observer threw: ${errorMessage(err)}`);
      }
    }
    if (overwritten > 0) this.dropped('overflow', overwritten);
    this.signal.notifyData();
  }

  /** Wakes the loop now, cutting a backoff sleep short (not a Retry-After). Returns at once. */
  flush(): void {
    this.signal.notifyFlush();
  }

  /**
   * Resolves when nothing is queued or in flight, or when `timeoutMs` passes, with how many events
   * the collector accepted meanwhile and how many remain. Starts the loop if needed.
   */
  async drain(timeoutMs: number): Promise<DrainResult> {
    const sentBefore = this.counters.sent;
    const result = (drained: boolean): DrainResult => ({
      sent: this.counters.sent - sentBefore,
      remaining: this.queueDepth + this.inFlight,
      drained,
    });
    if (this.isIdle()) return result(true);
    if (this.stopped) return result(false);
    this.start();
    this.draining++;
    this.flush();
    let timer: NodeJS.Timeout | undefined;
    let wake!: () => void;
    const drained = await Promise.race([
      new Promise<boolean>((resolve) => this.idleWaiters.add((wake = () => resolve(true)))),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), clampTimeout(timeoutMs)))),
    ]);
    clearTimeout(timer);
    this.idleWaiters.delete(wake);
    this.draining--;
    return result(drained && this.isIdle());
  }

  /** Aborts in-flight requests, waits for the loop to end and releases sockets. Safe to call twice. */
  stop(): Promise<void> {
    if (!this.stopping) {
      this.stopped = true;
      this.abort.abort();
      this.signal.notifyFlush();
      this.stopping = (this.loop ?? Promise.resolve()).then(() => {
        this.settleUnsettled();
        this.httpAgent.destroy();
        this.httpsAgent.destroy();
        if (this.ownsStorage) this.closeStorage();
        this.notifyIdle(true);
      });
    }
    return this.stopping;
  }

  private closeStorage(): void {
    try {
      this.storage.close?.();
    } catch (err) {
      this.log('error', `closing the event store failed: ${errorMessage(err)}`);
    }
  }

  private isIdle(): boolean {
    return this.queueDepth === 0 && this.inFlight === 0;
  }

  private notifyIdle(force = false): void {
    if (!force && !this.isIdle()) return;
    const waiters = [...this.idleWaiters];
    this.idleWaiters.clear();
    for (const wake of waiters) wake();
  }

  /** The send loop. It never rejects: anything unexpected is logged and the loop backs off. */
  private async run(): Promise<void> {
    while (!this.stopped) {
      if (this.queueDepth === 0) {
        this.notifyIdle();
        // A store other processes also fill is looked at again now and then; otherwise new
        // events wake the loop.
        await this.signal.wait(true, this.storage.pollIntervalMs);
        continue;
      }
      await this.linger();
      if (this.stopped) break;
      let pass: Pass | undefined;
      try {
        pass = await this.runPass();
        this.report(pass);
      } catch (err) {
        this.log('error', `send loop error: ${errorMessage(err)}`);
      }
      if (this.stopped) break;
      if (!pass || pass.failed) {
        await this.sleepAfterFailure(pass?.retryAfterMs ?? 0);
      } else if (pass.successes.length > 0) {
        this.backoff.reset();
      } else if (pass.failures.length === 0) {
        // Nothing could be leased although the storage reports events (a shared durable store
        // whose events another process holds): wait for news instead of spinning.
        await this.signal.wait(true, IDLE_RECHECK_MS);
      }
    }
  }

  /** Less than a batch waits up to `lingerMs` for more, unless a flush, drain or stop wants it now. */
  private async linger(): Promise<void> {
    const { lingerMs, batchSize } = this.options;
    if (lingerMs === 0 || this.draining > 0 || this.signal.flushRequested || this.queueDepth >= batchSize) return;
    this.lingering = true;
    try {
      await this.signal.wait(false, lingerMs);
    } finally {
      this.lingering = false;
    }
  }

  /** Sends up to the events queued when it starts, in up to `maxConcurrentRequests` parallel workers. */
  private async runPass(): Promise<Pass> {
    this.signal.consumeFlush();
    const pass: Pass = {
      budget: Math.max(this.storage.size, this.options.batchSize),
      failed: false,
      retryAfterMs: 0,
      kept: 0,
      successes: [],
      failures: [],
    };
    if (!this.settleUnsettled()) {
      pass.failed = true;
      return pass;
    }
    const workers: Array<Promise<void>> = [];
    for (let i = 0; i < this.options.maxConcurrentRequests && this.storage.size > 0; i++) {
      workers.push(this.worker(pass));
    }
    await Promise.allSettled(workers);
    return pass;
  }

  private async worker(pass: Pass): Promise<void> {
    const maxBytes = this.options.maxBatchBytes - ENVELOPE_BYTES;
    while (!pass.failed && !this.stopped && pass.budget > 0) {
      let batch: QueuedEvent[];
      try {
        batch = this.storage.lease(Math.min(this.options.batchSize, pass.budget), maxBytes);
      } catch (err) {
        this.storageFailed('take events from', err);
        pass.failed = true;
        return;
      }
      if (batch.length === 0) return;
      pass.budget -= batch.length;
      this.inFlight += batch.length;
      try {
        await this.sendBatch(batch, pass);
      } catch (err) {
        // Whatever failed (a custom token source, observer or logger), the events are kept.
        this.log('error', `sending a batch failed unexpectedly: ${errorMessage(err)}; its events are kept for retry`);
        pass.failed = true;
        this.release(batch);
      } finally {
        this.inFlight -= batch.length;
      }
    }
  }

  private async sendBatch(batch: QueuedEvent[], pass: Pass): Promise<void> {
    let outcome = await this.post(batch);
    if ((outcome.statusCode === 401 || outcome.statusCode === 403) && this.options.tokenSource && !this.stopped) {
      this.options.tokenSource.invalidate?.();
      outcome = await this.post(batch);
    }
    const status = outcome.statusCode;
    const result: SendResult = { eventCount: batch.length, statusCode: status, eids: batch.map((e) => e.eid) };
    if (outcome.error) result.error = outcome.error;

    if (status >= 200 && status < 400) {
      this.ack(batch);
      pass.successes.push(result);
      this.counters.sent += batch.length;
      this.counters.consecutiveFailures = 0;
      this.counters.lastSuccessAt = Date.now();
      return;
    }
    pass.failures.push(result);
    this.counters.consecutiveFailures++;
    this.counters.lastError = outcome.error ? outcome.error.message : `HTTP ${status}`;
    if (status === 413) {
      if (batch.length > 1) {
        const half = Math.ceil(batch.length / 2);
        await this.sendBatch(batch.slice(0, half), pass);
        await this.sendBatch(batch.slice(half), pass);
      } else {
        this.ack(batch);
        this.dropped('too_large', 1);
        this.log('warn', `collector answered 413 for a single event (${batch[0].bytes} bytes); dropped as too large`);
      }
      return;
    }
    if (status !== -1 && this.options.dontRetry.has(status)) {
      this.ack(batch);
      this.dropped('rejected', batch.length);
      this.log('warn', `collector rejected ${batch.length} events with HTTP ${status}; dropped (not retried)`);
      return;
    }
    pass.failed = true;
    if (outcome.retryAfterMs !== undefined) {
      pass.retryAfterMs = Math.max(pass.retryAfterMs, Math.min(outcome.retryAfterMs, this.options.maxRetryAfterMs));
    }
    pass.kept += this.requeue(batch, outcome.error?.code === 'ABORTED' && this.stopped);
  }

  private async post(batch: QueuedEvent[]): Promise<PostOutcome> {
    const outcome = await this.client.post(serialiseBatch(batch, Date.now()), this.abort.signal);
    const result = outcome.statusCode >= 200 && outcome.statusCode < 400 ? 'success' : 'failure';
    this.observe((o) => o.batchSent(result, batch.length, outcome.durationSeconds));
    return outcome;
  }

  /**
   * Puts a failed batch back at the end of the queue, dropping events past maxAttempts or
   * maxEventAgeMs; returns how many it kept. A request aborted by `stop()` is not an attempt.
   */
  private requeue(batch: QueuedEvent[], abortedByStop: boolean): number {
    if (abortedByStop) {
      this.release(batch);
      return batch.length;
    }
    const { maxAttempts, maxEventAgeMs } = this.options;
    const now = Date.now();
    const keep: QueuedEvent[] = [];
    const expired: QueuedEvent[] = [];
    for (const event of batch) {
      event.attempts++;
      const tooOld =
        (maxAttempts !== undefined && event.attempts >= maxAttempts) ||
        (maxEventAgeMs !== undefined && now - event.dtm > maxEventAgeMs);
      (tooOld ? expired : keep).push(event);
    }
    if (expired.length > 0) {
      this.ack(expired);
      this.dropped('expired', expired.length);
    }
    this.release(keep);
    return keep.length;
  }

  /** Done with leased events. If the storage fails, the ack is retried before the next lease. */
  private ack(events: QueuedEvent[]): void {
    if (events.length === 0) return;
    try {
      this.storage.ack(events);
    } catch (err) {
      this.unsettled.acks.push(...events);
      this.storageFailed('delete delivered events from', err);
    }
  }

  /** Leased events go back to the queue. If the storage fails, the emitter holds them and retries. */
  private release(events: QueuedEvent[]): void {
    if (events.length === 0) return;
    try {
      const overwritten = this.storage.release(events);
      if (overwritten > 0) this.dropped('overflow', overwritten);
    } catch (err) {
      this.unsettled.releases.push(...events);
      this.storageFailed('put failed events back into', err);
    }
    this.signal.notifyData();
  }

  /** Retries acks and releases the storage refused earlier; false while it still refuses. */
  private settleUnsettled(): boolean {
    const { acks, releases } = this.unsettled;
    if (acks.length > 0) this.ack(acks.splice(0));
    if (releases.length > 0) this.release(releases.splice(0));
    return this.unsettled.acks.length === 0 && this.unsettled.releases.length === 0;
  }

  private storageFailed(what: string, err: unknown): void {
    this.log('error', `could not ${what} the event store: ${errorMessage(err)}`);
  }

  private dropped(reason: DropReason, count: number): void {
    this.counters.dropped[reason] += count;
    this.observe((o) => o.eventsDropped(reason, count));
  }

  private report(pass: Pass): void {
    const last = pass.failures[pass.failures.length - 1];
    if (pass.failed && last) {
      this.log('warn', 
        `sending to ${this.safeUrl} failed (${last.error ? last.error.message : `HTTP ${last.statusCode}`}); ` +
          `${pass.kept} events kept for retry, ${this.queueDepth} queued`,
      );
    }
    const callback = this.options.callback;
    if (!callback || (pass.successes.length === 0 && pass.failures.length === 0)) return;
    try {
      const returned = callback(pass.successes, pass.failures);
      if (returned && typeof (returned as Promise<void>).catch === 'function') {
        (returned as Promise<void>).catch((err: unknown) => this.callbackFailed(err));
      }
    } catch (err) {
      this.callbackFailed(err);
    }
  }

  /** Logs through the configured logger; a throwing logger is ignored. */
  private log(level: 'warn' | 'error', message: string): void {
    safeLog(() => this.logger[level](message));
  }

  /** Metrics hooks must not throw; if a custom one does, sending goes on regardless. */
  private observe(call: (observer: EmitterObserver) => void): void {
    const observer = this.options.observer;
    if (!observer) return;
    try {
      call(observer);
    } catch (err) {
      this.log('error', `metrics observer threw: ${errorMessage(err)}`);
    }
  }

  private callbackFailed(err: unknown): void {
    this.log('error', `callback threw: ${errorMessage(err)}`);
  }

  /** Waits out the backoff (cut short by flush/stop), then any Retry-After (cut short only by stop). */
  private async sleepAfterFailure(retryAfterMs: number): Promise<void> {
    const notBefore = Date.now() + retryAfterMs;
    const delay = this.backoff.next();
    await this.signal.wait(false, Math.max(delay, retryAfterMs));
    const remaining = notBefore - Date.now();
    if (remaining > 0 && !this.stopped) await this.sleepUntilStopped(remaining);
  }

  private async sleepUntilStopped(ms: number): Promise<void> {
    const deadline = Date.now() + ms;
    while (!this.stopped && Date.now() < deadline) {
      await this.signal.wait(false, deadline - Date.now());
    }
  }
}
