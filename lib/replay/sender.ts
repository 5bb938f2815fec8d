import { setMaxListeners } from 'node:events';
import type { TokenSource } from '../auth/token-source.interface';
import { DEFAULT_BACKOFF } from '../emitter/backoff';
import { ENVELOPE_BYTES } from '../emitter/batch-body';
import type { CollectorClient, PostOutcome } from '../emitter/collector-client';
import { DEFAULT_MAX_RETRY_AFTER_MS } from '../emitter/emitter-options';
import { SCHEMAS } from '../tracker/schemas';
import type { JournalEntry, ReplayJournal } from './journal';
import type { ReplayReport } from './report';

/** One line to send (with the lines of its eid that hold the same event, removed with it). */
export interface ReplayItem {
  offset: number;
  key: string;
  lineNo: number;
  eid: string;
  /** The payload text; dropped while the item waits for a retry, and read from the file again then. */
  json?: string;
  /** Its bytes in a request body. */
  bytes: number;
  /** Other lines of its eid with the same event: delivered with it. */
  followers: JournalEntry[];
  /** Failed requests so far. */
  failures: number;
}

export interface ReplaySenderOptions {
  client: CollectorClient;
  tokenSource?: TokenSource;
  concurrency: number;
  batchSize: number;
  maxBatchBytes: number;
  /** When to stop sending (Date.now() ms). */
  deadline: number;
  journal: ReplayJournal;
  report: ReplayReport;
  /** The payload text of a line read again before a retry; undefined when the line changed. */
  reload(item: ReplayItem): string | undefined;
}

/** Answers that mean the collector refuses these very events: bisected, then kept for good. */
const REFUSED = new Set([400, 410, 413, 422]);

/**
 * Sends lines in batches, `concurrency` requests at a time, and keeps going whatever one line does.
 *
 * A batch the collector answers with a status that may be about one of its events (4xx, 5xx) is
 * halved at once until the lines it refuses stand alone, so the others are delivered without
 * waiting: only a line that still fails alone waits for a retry, with its own exponential backoff
 * (a 400, 410, 413 or 422 alone is refused and kept, not retried). A batch that got no answer (an
 * outage), a redirect, a 401/403 or 404, or a Retry-After waits as a whole: the failure is not
 * about its events, and the lines read after it go on meanwhile. A delivered batch is written to
 * the journal as soon as its answer arrives.
 */
export class ReplaySender {
  /** Bisected halves, sent first. */
  private readonly halves: ReplayItem[][] = [];
  /** Lines whose retry is due, and lines read and not sent yet. */
  private readonly due: ReplayItem[] = [];
  private readonly fresh: ReplayItem[] = [];
  /** Lines holding their payload text: bounds memory; reading waits while it is at `window`. */
  private loaded = 0;
  private readonly window: number;
  private readonly held = new Set<NodeJS.Timeout>();
  private heldLines = 0;
  private inFlight = 0;
  private ended = false;
  private wakeScheduled = false;
  private waiters: (() => void)[] = [];
  private readonly abort = new AbortController();
  private readonly deadlineTimer: NodeJS.Timeout;
  private workers?: Promise<void>[];
  /** Lines delivered (followers included) and refused for good (followers included). */
  delivered = 0;
  refused = 0;
  /** Lines that changed in the file while they waited for a retry (kept as they are now). */
  changed = 0;
  /** Set when the deadline passed or the journal failed: nothing more is sent. */
  stopped = false;
  /** The journal's failure, should it fail. */
  journalError?: unknown;

  constructor(private readonly options: ReplaySenderOptions) {
    this.window = options.concurrency * options.batchSize + options.batchSize;
    // One signal for every request of the replay.
    setMaxListeners(0, this.abort.signal);
    this.deadlineTimer = setTimeout(() => this.stop(), Math.max(0, options.deadline - Date.now()));
    // A sync failing in the journal's own timer stops the replay, as a failed record does.
    options.journal.watch((err) => this.journalFailed(err));
  }

  /** Queues a line; resolves when there is room for the next one. */
  async add(item: ReplayItem): Promise<void> {
    if (this.stopped) return;
    this.workers ??= Array.from({ length: this.options.concurrency }, () => this.work());
    this.fresh.push(item);
    this.loaded++;
    if (this.fresh.length >= this.options.batchSize) this.wake();
    else this.wakeSoon();
    while (this.loaded >= this.window && !this.stopped) await this.wait();
  }

  /** No more lines: resolves when every line is delivered, refused or still failing at the deadline. */
  async finish(): Promise<void> {
    this.ended = true;
    this.wake();
    await Promise.all(this.workers ?? []);
    this.stop();
  }

  /** Stops sending: aborts the requests in flight and the retries waiting (idempotent). */
  stop(): void {
    if (!this.stopped) {
      this.stopped = true;
      this.abort.abort();
    }
    clearTimeout(this.deadlineTimer);
    for (const timer of this.held) clearTimeout(timer);
    this.held.clear();
    this.wake();
  }

  private async work(): Promise<void> {
    while (!this.stopped) {
      const batch = this.next();
      if (batch) {
        this.inFlight++;
        try {
          await this.send(batch);
        } finally {
          this.inFlight--;
          this.wake();
        }
      } else if (this.ended && this.heldLines === 0 && this.inFlight === 0) {
        this.wake();
        return;
      } else {
        await this.wait();
      }
    }
  }

  private next(): ReplayItem[] | undefined {
    const half = this.halves.shift();
    if (half) return half;
    const pool = this.due.length > 0 ? this.due : this.fresh;
    if (pool.length === 0) return undefined;
    const limit = this.options.maxBatchBytes - ENVELOPE_BYTES;
    let count = 0;
    let bytes = 0;
    while (
      count < pool.length &&
      count < this.options.batchSize &&
      (count === 0 || bytes + pool[count].bytes <= limit)
    ) {
      bytes += pool[count].bytes;
      count++;
    }
    return pool.splice(0, count);
  }

  private async send(batch: ReplayItem[]): Promise<void> {
    const outcome = await this.options.client.post(body(batch), this.abort.signal);
    const { statusCode } = outcome;
    // A 2xx is noted even when it arrives as the deadline passes: the lines were delivered.
    if (statusCode >= 200 && statusCode < 300) return this.deliver(batch);
    if (this.stopped) return; // Aborted at the deadline: its lines stay in the file.
    const cause = statusCode === -1 ? describeError(outcome) : `the collector answered HTTP ${statusCode}`;
    const waitAsTold = outcome.retryAfterMs !== undefined;
    if (REFUSED.has(statusCode) || (statusCode >= 400 && !waitAsTold && !isAboutTheRequest(statusCode))) {
      if (batch.length > 1) return this.bisect(batch);
      if (REFUSED.has(statusCode)) return this.refuse(batch[0], `${cause} (refused by the collector)`);
    }
    let hint = '';
    if (statusCode === 401 || statusCode === 403) {
      this.options.tokenSource?.invalidate?.();
      hint = ' (authentication failed: check the credentials)';
    } else if (statusCode >= 300 && statusCode < 400) {
      hint = `${outcome.location ? ` to ${outcome.location}` : ''} (redirects are not followed: check the URL)`;
    } else if (statusCode === 404) hint = ' (check the collector URL)';
    this.options.report.failure(cause, batch.length, hint);
    const retryAfter =
      outcome.retryAfterMs === undefined ? undefined : Math.min(outcome.retryAfterMs, DEFAULT_MAX_RETRY_AFTER_MS);
    this.hold(batch, retryAfter);
  }

  private deliver(batch: readonly ReplayItem[]): void {
    const entries: JournalEntry[] = [];
    for (const item of batch) entries.push({ offset: item.offset, key: item.key }, ...item.followers);
    this.loaded -= batch.length;
    this.delivered += entries.length;
    try {
      this.options.journal.record(entries);
    } catch (err) {
      this.journalFailed(err);
    }
  }

  /** Progress can no longer be saved: nothing more is sent, and the replay rejects with this error. */
  private journalFailed(err: unknown): void {
    this.journalError ??= err;
    this.stop();
  }

  private bisect(batch: ReplayItem[]): void {
    const middle = Math.ceil(batch.length / 2);
    this.halves.unshift(batch.slice(0, middle), batch.slice(middle));
  }

  private refuse(item: ReplayItem, cause: string): void {
    this.loaded--;
    this.refused += 1 + item.followers.length;
    this.options.report.refused(item.lineNo, item.eid, cause);
  }

  /** Waits with the batch's own backoff (or a longer Retry-After), without its payload texts in memory. */
  private hold(batch: ReplayItem[], retryAfterMs?: number): void {
    let failures = 0;
    for (const item of batch) {
      item.failures++;
      failures = Math.max(failures, item.failures);
      item.json = undefined;
    }
    this.loaded -= batch.length;
    this.heldLines += batch.length;
    const { baseMs, factor, capMs } = DEFAULT_BACKOFF;
    const backoff = Math.floor(Math.random() * Math.min(capMs, baseMs * Math.pow(factor, failures - 1)));
    // A Retry-After of 0 or a date past is no reason to retry at once: the backoff still applies.
    const delay = Math.max(retryAfterMs ?? 0, backoff);
    const timer = setTimeout(() => {
      this.held.delete(timer);
      this.heldLines -= batch.length;
      for (const item of batch) {
        item.json = this.options.reload(item);
        if (item.json === undefined) {
          this.changed += 1 + item.followers.length;
          this.options.report.changed(item.lineNo, item.eid);
        } else {
          this.due.push(item);
          this.loaded++;
        }
      }
      this.wake();
    }, delay);
    this.held.add(timer);
  }

  private wait(): Promise<void> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const resolve of waiters) resolve();
  }

  /** Wakes the senders once the lines read in this turn of the event loop are queued, so batches fill up. */
  private wakeSoon(): void {
    if (this.wakeScheduled) return;
    this.wakeScheduled = true;
    setImmediate(() => {
      this.wakeScheduled = false;
      this.wake();
    });
  }
}

/** 3xx, 401, 403, 404: about the request or its credentials, not its events; the batch waits whole. */
function isAboutTheRequest(statusCode: number): boolean {
  return statusCode < 400 || statusCode === 401 || statusCode === 403 || statusCode === 404;
}

function describeError(outcome: PostOutcome): string {
  const code = outcome.error?.code;
  return code ? `the request failed (${code})` : 'the request failed';
}

/** The request body: the payload_data envelope with a fresh `stm` on every event. */
function body(batch: readonly ReplayItem[]): string {
  const stm = `{"stm":"${Date.now()}",`;
  let text = `{"schema":"${SCHEMAS.payloadData}","data":[`;
  for (let i = 0; i < batch.length; i++) text += (i === 0 ? stm : `,${stm}`) + (batch[i].json as string).slice(1);
  return `${text}]}`;
}
