// One send pass as the operator sees it: the exact log lines, observer calls, callback results and
// dead-letter lines; what a pass takes; what the outbox file holds after acks and releases the
// storage refused; and when the loop wakes from a backoff or Retry-After sleep.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DeadLetterRecord,
  Emitter,
  EmitterObserver,
  EmitterOptions,
  QueuedEvent,
  SendResult,
  SqliteStorage,
  StorageError,
  TrackedPayload,
  Tracker,
} from '../../lib/core';
import { LocalCollector, startLocalCollector } from '../../lib/testing/local-collector';
import { waitFor } from '../support/wait-for';

type Line = [level: 'log' | 'warn' | 'error', message: string];

const billingInput = { category: 'c', eventType: 'seats', realm: 'SM', unitOfMeasure: 'seat', quantity: 1 } as const;

/** One macrotask turn: every microtask the loop queued has run, and no timer has fired. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

function deferred() {
  let release!: () => void;
  const promise = new Promise<void>((resolve) => (release = resolve));
  return { promise, release };
}

describe('a send pass', () => {
  let collector: LocalCollector;
  let dir: string;
  let lines: Line[];
  const emitters: Emitter[] = [];
  const storages: SqliteStorage[] = [];
  const logger = {
    log: (m: string) => void lines.push(['log', m]),
    warn: (m: string) => void lines.push(['warn', m]),
    error: (m: string) => void lines.push(['error', m]),
  };

  /** Full jitter draws its ceiling: every backoff is what the options say, never a lucky 0. */
  let random: jest.SpyInstance;
  beforeEach(async () => {
    random = jest.spyOn(Math, 'random').mockReturnValue(0.9999);
    collector = await startLocalCollector();
    dir = mkdtempSync(join(tmpdir(), 'send-pass-'));
    lines = [];
  });
  afterEach(async () => {
    for (const emitter of emitters.splice(0)) await emitter.stop();
    for (const storage of storages.splice(0)) storage.close();
    await collector.close();
    random.mockRestore();
    rmSync(dir, { recursive: true, force: true });
  });

  /** An emitter on the collector that records its log; not started, so a test queues first. */
  function emitterWith(options: Partial<EmitterOptions> = {}) {
    const emitter = new Emitter({ collectorUrl: collector.endpoint, logger, lingerMs: 0, ...options });
    emitters.push(emitter);
    return { emitter, tracker: new Tracker({ appId: 'pass', emitter }) };
  }

  function deadLetters(path: string): DeadLetterRecord[] {
    return readFileSync(path, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as DeadLetterRecord);
  }

  /** Records the observer calls in order, with durations replaced by their type. */
  function recordingObserver() {
    const calls: unknown[][] = [];
    const observer: EmitterObserver = {
      eventsEnqueued: () => undefined,
      requestFinished: (result, seconds) => void calls.push(['requestFinished', result, typeof seconds]),
      eventsSent: (result, count) => void calls.push(['eventsSent', result, count]),
      eventsDropped: (reason, kind, count) => void calls.push(['eventsDropped', reason, kind, count]),
      authFailed: () => void calls.push(['authFailed']),
    };
    return { observer, calls };
  }

  describe('logs once per pass, with the exact counts', () => {
    it('refused events: a warning for custom ones, with where they were dead-lettered', async () => {
      const path = join(dir, 'dead.jsonl');
      const { emitter, tracker } = emitterWith({ deadLetter: { path } });
      const refused = new Set([tracker.trackEvent('bad_1').eid, tracker.trackEvent('bad_2').eid]);
      tracker.trackEvent('good');
      collector.behaviour = (request) =>
        JSON.parse(request.body).data.some((e: { eid: string }) => refused.has(e.eid))
          ? { status: 400 }
          : { status: 200 };
      emitter.start();
      expect(await emitter.drain(10_000)).toEqual({ sent: 1, remaining: 0, drained: true });

      expect(lines).toEqual([
        [
          'warn',
          'the collector answered HTTP 400 to a batch of 3 events; batches were halved to find the events it refuses',
        ],
        ['warn', `2 events will never be delivered (rejected: 2); dead-lettered to ${path}`],
      ]);
      const records = deadLetters(path);
      expect(records.map((r) => [r.reason, r.statusCode, r.error])).toEqual([
        ['rejected', 400, 'the collector answered HTTP 400'],
        ['rejected', 400, 'the collector answered HTTP 400'],
      ]);
      expect(new Set(records.map((r) => r.eid))).toEqual(refused);
    });

    it('a refused billing event is an error, and the line says how many were billing', async () => {
      const { emitter, tracker } = emitterWith();
      tracker.trackBillingEvent(billingInput);
      tracker.trackEvent('bad');
      collector.behaviour = () => ({ status: 422 });
      emitter.start();
      await emitter.drain(10_000);

      // Without a dead-letter file the billing event's payload is logged at error level when it
      // is given up; the pass's lines follow.
      const [payload, split, summary, ...rest] = lines;
      expect(payload[0]).toBe('error');
      expect(payload[1]).toMatch(/^billing event [0-9a-f-]{36} dropped \(rejected: the collector answered HTTP 422\)/);
      expect(split).toEqual([
        'warn',
        'the collector answered HTTP 422 to a batch of 2 events; batches were halved to find the events it refuses',
      ]);
      expect(summary).toEqual(['error', '2 events will never be delivered (rejected: 2; 1 billing); dead-lettered']);
      expect(rest).toEqual([]);
    });

    it('a failed pass says what failed and how many events are kept; a later success logs nothing', async () => {
      const { emitter, tracker } = emitterWith({ backoff: { baseMs: 1, capMs: 1 } });
      for (let i = 0; i < 3; i++) tracker.trackEvent(`e${i}`);
      collector.behaviour = (_request, index) => ({ status: index === 0 ? 500 : 200 });
      emitter.start();
      await emitter.drain(10_000);

      expect(lines).toEqual([['warn', `sending to ${collector.endpoint} failed (HTTP 500); 3 events kept for retry`]]);
      expect(collector.counts().accepted).toEqual({ total: 3, distinct: 3 });
    });

    it('a request that fails without an answer names the error, and stats keep it as lastError', async () => {
      const { emitter, tracker } = emitterWith({ backoff: { baseMs: 60_000, capMs: 60_000 } });
      tracker.trackEvent('e');
      collector.behaviour = () => ({ reset: true });
      emitter.start();
      await waitFor(() => lines.length > 0, { what: 'the failure line' });

      const { lastError } = emitter.stats();
      expect(lastError).toBeTruthy();
      expect(lastError).not.toMatch(/HTTP/);
      expect(lines).toEqual([
        ['warn', `sending to ${collector.endpoint} failed (${lastError}); 1 events kept for retry`],
      ]);
    });

    it('an HTTP failure is kept in stats as "HTTP <status>"', async () => {
      const { emitter, tracker } = emitterWith({ backoff: { baseMs: 60_000, capMs: 60_000 } });
      tracker.trackEvent('e');
      collector.behaviour = () => ({ status: 503 });
      emitter.start();
      await waitFor(() => lines.length > 0, { what: 'the failure line' });
      expect(emitter.stats().lastError).toBe('HTTP 503');
    });

    it.each([
      [
        { status: 302, headers: { location: 'https://elsewhere.example/tp2' } },
        'redirecting to https://elsewhere.example/tp2',
      ],
      [{ status: 307 }, 'redirecting to (no Location header)'],
    ])('a redirect (%j) is an error hint naming the target', async (reply, target) => {
      const { emitter, tracker } = emitterWith({ backoff: { baseMs: 60_000, capMs: 60_000 } });
      tracker.trackEvent('e');
      collector.behaviour = () => reply;
      emitter.start();
      await waitFor(() => lines.length >= 2, { what: 'the hint and the failure line' });
      expect(lines[0]).toEqual([
        'error',
        `the collector answered HTTP ${reply.status} ${target}; redirects are not followed, so the events are kept ` +
          'and retried: set collectorUrl to the final tp2 endpoint',
      ]);
    });

    it('each kind of hint is told once per run of failures, whatever came before it', async () => {
      const { emitter, tracker } = emitterWith({ backoff: { baseMs: 1, capMs: 1 } });
      tracker.trackEvent('e');
      const replies = [{ status: 302 }, { status: 404 }, { status: 302 }, { status: 404 }, { status: 200 }];
      collector.behaviour = (_request, index) => replies[index] ?? { status: 200 };
      emitter.start();
      await emitter.drain(10_000);

      expect(lines.filter(([level]) => level === 'error').map(([, message]) => message)).toEqual([
        'the collector answered HTTP 302 redirecting to (no Location header); redirects are not followed, so the ' +
          'events are kept and retried: set collectorUrl to the final tp2 endpoint',
        `the collector answered HTTP 404 at ${collector.endpoint}: check the collector path ` +
          '(Snowplow collectors take batches at /com.snowplowanalytics.snowplow/tp2); the events are kept and retried',
      ]);
    });

    it.each([
      [false, 'authentication with the collector is failing (HTTP 401); the events are kept and retried'],
      [
        true,
        'authentication with the collector is failing (HTTP 401 after a token refresh); the events are kept and retried',
      ],
    ])('an auth failure (token source: %s) is logged as an error', async (withToken, message) => {
      const { emitter, tracker } = emitterWith({
        backoff: { baseMs: 60_000, capMs: 60_000 },
        ...(withToken ? { tokenSource: { enhanceHeader: async () => undefined } } : {}),
      });
      tracker.trackEvent('e');
      collector.behaviour = () => ({ status: 401 });
      emitter.start();
      await waitFor(() => lines.length >= 2, { what: 'the auth line and the failure line' });
      expect(lines[0]).toEqual(['error', message]);
    });

    it('a token source whose invalidate() throws: the error is logged and the events are kept and sent later', async () => {
      const { emitter, tracker } = emitterWith({
        backoff: { baseMs: 1, capMs: 1 },
        tokenSource: {
          enhanceHeader: async () => undefined,
          invalidate: () => {
            throw new Error('token cache is gone');
          },
        },
      });
      const { eid } = tracker.trackEvent('e');
      collector.behaviour = (_request, index) => ({ status: index === 0 ? 401 : 200 });
      emitter.start();
      await emitter.drain(10_000);

      expect(lines).toEqual([
        ['error', 'sending a batch failed unexpectedly: token cache is gone; its events are kept for retry'],
      ]);
      expect(collector.events().map((e) => e.eid)).toEqual([eid]);
    });

    it('a callback returning nothing, and no callback at all, log nothing', async () => {
      const results: SendResult[] = [];
      const { emitter, tracker } = emitterWith({ callback: (successes) => void results.push(...successes) });
      const { eid } = tracker.trackEvent('e');
      emitter.start();
      await emitter.drain(10_000);
      // Only the fields that apply: no `error` key on a success.
      expect(results).toStrictEqual([{ eventCount: 1, statusCode: 200, eids: [eid] }]);

      const plain = emitterWith();
      plain.tracker.trackEvent('e');
      plain.emitter.start();
      await plain.emitter.drain(10_000);
      expect(lines).toEqual([]);
    });
  });

  describe('the observer', () => {
    it.each([
      [200, 'success'],
      [299, 'success'],
      [300, 'failure'],
      [500, 'failure'],
    ] as const)('sees HTTP %d as a %s, for the request and for its events', async (status, result) => {
      const { observer, calls } = recordingObserver();
      const { emitter, tracker } = emitterWith({ observer, backoff: { baseMs: 60_000, capMs: 60_000 } });
      tracker.trackEvent('a');
      tracker.trackEvent('b');
      collector.behaviour = () => ({ status });
      emitter.start();
      await waitFor(() => calls.length >= 2, { what: 'two observer calls' });
      expect(calls).toEqual([
        ['requestFinished', result, 'number'],
        ['eventsSent', result, 2],
      ]);
    });

    it('sees both requests of a token refresh, then one failure and one auth failure', async () => {
      const { observer, calls } = recordingObserver();
      const { emitter, tracker } = emitterWith({
        observer,
        backoff: { baseMs: 60_000, capMs: 60_000 },
        tokenSource: { enhanceHeader: async () => undefined, invalidate: () => undefined },
      });
      tracker.trackEvent('a');
      collector.behaviour = () => ({ status: 403 });
      emitter.start();
      await waitFor(() => calls.length >= 4, { what: 'four observer calls' });
      expect(calls).toEqual([
        ['requestFinished', 'failure', 'number'],
        ['requestFinished', 'failure', 'number'],
        ['eventsSent', 'failure', 1],
        ['authFailed'],
      ]);
    });
  });

  describe('giving events up', () => {
    it('maxAttempts: the event goes at its last attempt, and the line says how many and why', async () => {
      const path = join(dir, 'dead.jsonl');
      const { observer, calls } = recordingObserver();
      const { emitter, tracker } = emitterWith({
        observer,
        maxAttempts: 3,
        deadLetter: { path },
        backoff: { baseMs: 1, capMs: 1 },
      });
      const { eid } = tracker.trackEvent('e');
      collector.behaviour = () => ({ status: 500 });
      emitter.start();
      expect(await emitter.drain(10_000)).toEqual({ sent: 0, remaining: 0, drained: true });
      await emitter.stop();

      expect(collector.requests).toHaveLength(3);
      const [record] = deadLetters(path);
      expect(record).toMatchObject({
        eid,
        reason: 'expired',
        statusCode: 500,
        attempts: 3,
        error: 'expired after 3 attempts; last: the collector answered HTTP 500',
      });
      expect(calls.filter(([name]) => name === 'eventsDropped')).toEqual([['eventsDropped', 'expired', 'custom', 1]]);
      expect(lines).toContainEqual(['warn', `1 events will never be delivered (expired: 1); dead-lettered to ${path}`]);
    });

    it('maxEventAgeMs: an event older than that goes after its first failure, with the error that ended it', async () => {
      const path = join(dir, 'dead.jsonl');
      const captured: TrackedPayload[] = [];
      new Tracker({ appId: 'pass', emitter: { enqueue: (p) => void captured.push(p) } }).trackBillingEvent(
        billingInput,
      );
      const { emitter } = emitterWith({
        maxEventAgeMs: 60_000,
        deadLetter: { path },
        backoff: { baseMs: 60_000, capMs: 60_000 },
      });
      const old = { ...captured[0], dtm: Date.now() - 120_000 };
      emitter.enqueue(old);
      collector.behaviour = () => ({ reset: true });
      emitter.start();
      // Drained once the event is given up, without waiting out the minute of backoff after the failure.
      expect(await emitter.drain(10_000)).toEqual({ sent: 0, remaining: 0, drained: true });
      await emitter.stop();

      expect(collector.requests).toHaveLength(1);
      const [record] = deadLetters(path);
      expect(record).toMatchObject({ eid: old.eid, kind: 'billing', reason: 'expired', attempts: 1 });
      // No answer, so no status code: the error is the socket's.
      expect(record.statusCode).toBeUndefined();
      expect(record.error).toMatch(/^expired after 1 attempts; last: (?!the collector answered)/);
      expect(lines).toContainEqual([
        'error',
        `1 events will never be delivered (expired: 1; 1 billing); dead-lettered to ${path}`,
      ]);
    });

    it('an event younger than maxEventAgeMs is kept and sent', async () => {
      const { emitter, tracker } = emitterWith({ maxEventAgeMs: 60_000, backoff: { baseMs: 1, capMs: 1 } });
      const { eid } = tracker.trackEvent('e');
      collector.behaviour = (_request, index) => ({ status: index === 0 ? 500 : 200 });
      emitter.start();
      await emitter.drain(10_000);
      expect(collector.events().map((e) => e.eid)).toEqual([eid]);
      expect(emitter.stats().dropped.expired).toBe(0);
    });
  });

  describe('what a pass takes', () => {
    it('only the events queued when it started: one arriving meanwhile waits for the next pass', async () => {
      const calls: number[] = [];
      const gate = deferred();
      const { emitter, tracker } = emitterWith({
        batchSize: 1,
        maxBatchSize: 1,
        maxConcurrentRequests: 1,
        callback: (successes) => void calls.push(successes.length),
      });
      tracker.trackEvent('first');
      tracker.trackEvent('second');
      collector.behaviour = (_request, index) => (index === 0 ? { status: 200, after: gate.promise } : { status: 200 });
      emitter.start();
      await waitFor(() => collector.requests.length === 1, { what: 'the first request' });
      tracker.trackEvent('third');
      gate.release();
      await emitter.drain(10_000);
      expect(calls).toEqual([2, 1]);
    });

    it('never a request body over maxBatchBytes', async () => {
      const { emitter, tracker } = emitterWith({ maxBatchBytes: 4_000, batchSize: 50 });
      for (let i = 0; i < 40; i++) tracker.trackEvent('sized', { pad: 'x'.repeat(200) });
      emitter.start();
      await emitter.drain(10_000);
      const sizes = collector.requests.map((r) => Buffer.byteLength(r.body));
      expect(collector.counts().accepted).toEqual({ total: 40, distinct: 40 });
      expect(sizes.length).toBeGreaterThan(1);
      expect(Math.max(...sizes)).toBeLessThanOrEqual(4_000);
    });
  });

  describe('acks and releases on a real outbox', () => {
    class RefusingStorage extends SqliteStorage {
      refuse = { ack: 0, release: 0, add: 0 };
      override ack(events: readonly QueuedEvent[]): void {
        if (this.refuse.ack-- > 0) throw new Error('disk I/O error (ack)');
        super.ack(events);
      }
      override release(events: readonly QueuedEvent[]): number {
        if (this.refuse.release-- > 0) throw new Error('disk I/O error (release)');
        return super.release(events);
      }
      override add(event: QueuedEvent): number {
        if (this.refuse.add-- > 0) throw new Error('disk I/O error (add)');
        return super.add(event);
      }
    }

    function outbox() {
      const path = join(dir, 'outbox.db');
      const storage = new RefusingStorage({ path });
      storages.push(storage);
      return { path, storage };
    }

    /** Rows left in the file, as the next process would find them. */
    function rowsAfterRestart(path: string): number {
      const reopened = new SqliteStorage({ path });
      try {
        return reopened.size;
      } finally {
        reopened.close();
      }
    }

    it('delivered events leave the file; nothing is there for the next start', async () => {
      const { path, storage } = outbox();
      const { emitter, tracker } = emitterWith({ storage });
      for (let i = 0; i < 5; i++) tracker.trackBillingEvent(billingInput);
      emitter.start();
      expect(await emitter.drain(10_000)).toEqual({ sent: 5, remaining: 0, drained: true });
      await emitter.stop();
      storage.close();
      expect(rowsAfterRestart(path)).toBe(0);
    });

    it('a refused ack is held and retried before the next lease: the rows go, nothing is sent twice', async () => {
      const { path, storage } = outbox();
      storage.refuse.ack = 1;
      const { emitter, tracker } = emitterWith({ storage, backoff: { baseMs: 1, capMs: 1 } });
      tracker.trackBillingEvent(billingInput);
      emitter.start();
      await waitFor(() => lines.length > 0, { what: 'the storage error' });
      tracker.trackBillingEvent(billingInput);
      await emitter.drain(10_000);
      await emitter.stop();
      storage.close();

      expect(lines[0]).toEqual([
        'error',
        'could not delete delivered events from the event store: disk I/O error (ack)',
      ]);
      expect(collector.counts().accepted).toEqual({ total: 2, distinct: 2 });
      expect(rowsAfterRestart(path)).toBe(0);
    });

    it('a refused release is held in memory, counted as queued, and sent once the store takes it back', async () => {
      const { storage } = outbox();
      storage.refuse.release = 1;
      const { emitter, tracker } = emitterWith({ storage, backoff: { baseMs: 1, capMs: 1 } });
      const { eid } = tracker.trackBillingEvent(billingInput);
      collector.behaviour = (_request, index) => ({ status: index === 0 ? 500 : 200 });
      emitter.start();
      await emitter.drain(10_000);

      expect(lines).toContainEqual([
        'error',
        'could not put events back into the event store: disk I/O error (release)',
      ]);
      expect(collector.events().map((e) => e.eid)).toEqual([eid]);
      expect(collector.requests).toHaveLength(2);
    });

    it('a refused billing write throws to the caller: nothing is queued, the refusal is counted and logged', async () => {
      const { storage } = outbox();
      storage.refuse.add = 1;
      const { emitter, tracker } = emitterWith({ storage });
      expect(() => tracker.trackBillingEvent(billingInput)).toThrow(
        new StorageError(storage.path, 'disk I/O error (add)'),
      );
      expect(emitter.queueDepth).toBe(0);
      expect(emitter.stats()).toMatchObject({ enqueued: 0, storageErrors: 1 });
      expect(lines).toEqual([
        [
          'error',
          `could not write a billing event to the event store: Snowplow event store ${storage.path}: disk I/O error (add)`,
        ],
      ]);
      const { eid } = tracker.trackBillingEvent(billingInput);
      emitter.start();
      await emitter.drain(10_000);
      expect(collector.events().map((e) => e.eid)).toEqual([eid]);
    });

    it('events put back into a full custom lane make room by overwriting, counted as overflow', async () => {
      const { observer, calls } = recordingObserver();
      const gate = deferred();
      const { emitter, tracker } = emitterWith({
        capacity: 3,
        observer,
        maxConcurrentRequests: 1,
        backoff: { baseMs: 60_000, capMs: 60_000 },
      });
      for (let i = 0; i < 3; i++) tracker.trackEvent(`leased${i}`);
      collector.behaviour = () => ({ status: 500, after: gate.promise });
      emitter.start();
      await waitFor(() => emitter.stats().inFlight === 3, { what: 'three events in flight' });
      for (let i = 0; i < 3; i++) tracker.trackEvent(`waiting${i}`);
      gate.release();
      await waitFor(() => emitter.stats().inFlight === 0, { what: 'the failed request' });

      expect(emitter.stats().dropped.overflow).toBe(3);
      expect(calls).toContainEqual(['eventsDropped', 'overflow', 'custom', 3]);
      expect(emitter.queueDepth).toBe(3);
    });
  });

  describe('waking the loop', () => {
    it('new events do not cut a backoff short', async () => {
      const { emitter, tracker } = emitterWith({ backoff: { baseMs: 60_000, capMs: 60_000 } });
      tracker.trackEvent('first');
      collector.behaviour = () => ({ status: 500 });
      emitter.start();
      await waitFor(() => lines.length > 0, { what: 'the failed pass' });
      await settle();
      tracker.trackEvent('second');
      await settle();
      expect(emitter.stats().inFlight).toBe(0);
      expect(emitter.queueDepth).toBe(2);
      expect(collector.requests).toHaveLength(1);
    });

    it('a flush that arrives while a request is out cuts the backoff after it, even after an earlier timed-out sleep', async () => {
      const gate = deferred();
      // The first backoff is 1 ms (it times out), the second a minute.
      const { emitter, tracker } = emitterWith({ backoff: { baseMs: 1, factor: 60_000, capMs: 60_000 } });
      tracker.trackEvent('e');
      collector.behaviour = (_request, index) =>
        index === 0 ? { status: 500 } : index === 1 ? { status: 500, after: gate.promise } : { status: 200 };
      emitter.start();
      await waitFor(() => collector.requests.length === 2, { what: 'the second attempt' });
      emitter.flush();
      gate.release();
      await collector.waitForEvents(1, 10_000);
      expect(collector.requests).toHaveLength(3);
    });

    it('a flush does not cut a Retry-After short', async () => {
      const { emitter, tracker } = emitterWith({ backoff: { baseMs: 1, capMs: 1 } });
      tracker.trackEvent('e');
      collector.behaviour = (_request, index) =>
        index === 0 ? { status: 503, headers: { 'retry-after': '1' } } : { status: 200 };
      emitter.start();
      await waitFor(() => lines.length > 0, { what: 'the failed pass' });
      emitter.flush();
      await collector.waitForEvents(1, 10_000);
      const [first, second] = collector.requests;
      expect(second.receivedAt - first.receivedAt).toBeGreaterThanOrEqual(1_000);
    });

    it('a partial batch lingering for more is sent as soon as the batch is full', async () => {
      const { emitter, tracker } = emitterWith({ lingerMs: 60_000, batchSize: 3 });
      emitter.start();
      tracker.trackEvent('a');
      await settle();
      tracker.trackEvent('b');
      tracker.trackEvent('c');
      await collector.waitForEvents(3, 10_000);
      expect(collector.requests).toHaveLength(1);
    });
  });
});
