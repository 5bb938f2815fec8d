// The emitter's life around the send path: how it shows itself, stats(), enqueue's refusals and
// the billing lane's bound, the observer, start()/drain()/stop() and lingering for a fuller batch.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import axios from 'axios';
import {
  Emitter,
  EmitterObserver,
  EmitterOptions,
  EmitterStoppedError,
  EventTooLargeError,
  RingBufferStorage,
  SendResult,
  TokenSource,
  TrackedPayload,
  Tracker,
} from '../../lib/core';
import { bodyBytes } from '../../lib/tracker/payload';
import { LocalCollector, startLocalCollector } from '../../lib/testing/local-collector';
import { waitFor } from '../support/wait-for';

const BILL = { category: 'c', eventType: 'seats', realm: 'SM' as const, unitOfMeasure: 'seat', quantity: 1 };

function recordingLogger() {
  const lines: Array<{ level: string; message: string }> = [];
  const at = (level: string) => (message: string) => void lines.push({ level, message });
  return { lines, logger: { log: at('log'), warn: at('warn'), error: at('error') } };
}

const raw = (json: string, extra: Partial<TrackedPayload> = {}): TrackedPayload => ({
  kind: 'custom',
  eid: `eid-${json.length}`,
  dtm: 1_767_323_045_000,
  json,
  ...extra,
});

describe('Emitter lifecycle', () => {
  let collector: LocalCollector;
  let dir: string;
  const emitters: Emitter[] = [];
  const make = (options: Partial<EmitterOptions> = {}) => {
    const emitter = new Emitter({
      collectorUrl: collector.endpoint,
      logger: recordingLogger().logger,
      ...options,
    });
    emitters.push(emitter);
    return { emitter, tracker: new Tracker({ appId: 'life', emitter }) };
  };
  beforeEach(async () => {
    collector = await startLocalCollector();
    dir = mkdtempSync(join(tmpdir(), 'snowplow-life-'));
  });
  afterEach(async () => {
    await Promise.all(emitters.splice(0).map((e) => e.stop()));
    await collector.close();
    rmSync(dir, { recursive: true, force: true });
  });

  describe('how it shows itself', () => {
    it('toString, toJSON and inspect give the class, the masked URL and the stats', () => {
      const url = new URL(collector.endpoint);
      url.username = 'u';
      url.password = 'hunter2';
      const { emitter, tracker } = make({ collectorUrl: url.href, capacity: 7 });
      tracker.trackEvent('one');
      const masked = url.href.replace('u:hunter2', '***:***');
      expect(emitter.collectorUrl).toBe(masked);
      expect(String(emitter)).toBe(`Emitter(${masked})`);
      expect(emitter.toJSON()).toEqual({ collectorUrl: masked, stats: emitter.stats() });
      expect(JSON.parse(JSON.stringify(emitter))).toMatchObject({ collectorUrl: masked, stats: { queued: 1 } });
      const shown = inspect(emitter);
      expect(shown.startsWith('Emitter {')).toBe(true);
      expect(shown).toContain(`collectorUrl: '${masked}'`);
      // depth 4 reaches the drop counts of a lane
      expect(shown.replace(/\s+/g, ' ')).toContain('billing: { queued: 0, capacity: 10000, dropped: { overflow: 0,');
      expect(shown).not.toContain('[Object]');
      expect(shown).not.toContain('hunter2');
      expect(emitter.capacity).toBe(7);
    });
  });

  describe('stats() and queueDepth', () => {
    it('before start: every field', () => {
      const { emitter, tracker } = make({ capacity: 50, billing: { capacity: 5 } });
      tracker.trackEvent('a');
      tracker.trackEvent('b');
      tracker.trackBillingEvent(BILL);
      expect(emitter.queueDepth).toBe(3);
      const zero = { overflow: 0, rejected: 0, too_large: 0, expired: 0, shutdown: 0, not_stored: 0 };
      expect(emitter.stats()).toEqual({
        queued: 3,
        inFlight: 0,
        capacity: 50,
        enqueued: 3,
        sent: 0,
        dropped: zero,
        billing: { queued: 1, capacity: 5, dropped: zero },
        custom: { queued: 2, capacity: 50, dropped: zero },
        lastSuccessAt: undefined,
        lastError: undefined,
        consecutiveFailures: 0,
        authFailures: 0,
        stopped: false,
        storageErrors: 0,
        storeReachable: true,
        storageError: undefined,
      });
      expect(emitter.isStopped).toBe(false);
    });

    it('held events (a store that refused them) count in their lane', () => {
      class Refusing extends RingBufferStorage {
        override add(): number {
          throw new Error('disk full');
        }
      }
      const { emitter, tracker } = make({ storage: new Refusing(10, 10) });
      tracker.trackBillingEvent(BILL);
      tracker.trackEvent('x');
      tracker.trackEvent('y');
      expect(emitter.stats()).toMatchObject({ queued: 3, billing: { queued: 1 }, custom: { queued: 2 } });
      expect(emitter.queueDepth).toBe(3);
    });
  });

  describe('enqueue', () => {
    it('exactly maxEventBytes is accepted, one byte more is refused with the sizes', () => {
      const { emitter } = make({ maxEventBytes: 500 });
      expect(() => emitter.enqueue(raw('{}', { bytes: 500 }))).not.toThrow();
      let refused: unknown;
      try {
        emitter.enqueue(raw('{}', { bytes: 501 }));
      } catch (err) {
        refused = err;
      }
      expect(refused).toBeInstanceOf(EventTooLargeError);
      expect(refused).toMatchObject({ bytes: 501, maxEventBytes: 500 });
      expect(emitter.stats().enqueued).toBe(1);
    });

    it('a payload without bytes is measured', () => {
      const json = `{"e":"pv","x":"${'a'.repeat(600)}"}`;
      const { emitter } = make({ maxEventBytes: bodyBytes(json) });
      emitter.enqueue(raw(json));
      const longer = `{"e":"pv","x":"${'a'.repeat(601)}"}`;
      expect(() => emitter.enqueue(raw(longer))).toThrow(EventTooLargeError);
      expect(emitter.queueDepth).toBe(1);
    });

    it('after stop: EmitterStoppedError, and nothing is counted', async () => {
      const { emitter } = make();
      await emitter.stop();
      expect(() => emitter.enqueue(raw('{}'))).toThrow(EmitterStoppedError);
      expect(emitter.stats().enqueued).toBe(0);
    });

    it('the billing lane takes exactly its capacity; the next is given up as overflow and logged with its payload', () => {
      const { lines, logger } = recordingLogger();
      const { emitter, tracker } = make({ billing: { capacity: 2 }, logger });
      tracker.trackBillingEvent(BILL);
      tracker.trackBillingEvent(BILL);
      expect(lines).toEqual([]);
      const { eid } = tracker.trackBillingEvent(BILL);
      expect(emitter.stats().billing).toMatchObject({ queued: 2, dropped: { overflow: 1 } });
      expect(emitter.stats().custom.dropped.overflow).toBe(0);
      expect(emitter.stats().enqueued).toBe(3);
      expect(lines[0]).toEqual({
        level: 'error',
        message:
          'the billing queue is full (2 events waiting, billing.capacity): new billing events are logged with ' +
          'their payload and dropped',
      });
      expect(lines[1].level).toBe('error');
      expect(lines[1].message).toMatch(
        new RegExp(
          `^billing event ${eid} dropped \\(overflow: the billing queue was full \\(billing\\.capacity 2\\)\\) ` +
            'and no deadLetter file is set; its payload: \\{',
        ),
      );
      expect(lines).toHaveLength(2);
    });

    it('billing overflow with a dead-letter file: written there, the log names the file, repeats are held back', () => {
      const { lines, logger } = recordingLogger();
      const path = join(dir, 'dead.jsonl');
      let now = 1_000_000;
      const clock = jest.spyOn(Date, 'now').mockImplementation(() => now);
      try {
        const { emitter, tracker } = make({ billing: { capacity: 1 }, logger, deadLetter: { path } });
        tracker.trackBillingEvent(BILL);
        const over = [tracker.trackBillingEvent(BILL).eid, tracker.trackBillingEvent(BILL).eid];
        now += 9_999;
        over.push(tracker.trackBillingEvent(BILL).eid);
        now += 1;
        over.push(tracker.trackBillingEvent(BILL).eid);
        expect(lines).toEqual([
          {
            level: 'error',
            message: `the billing queue is full (1 events waiting, billing.capacity): new billing events are dead-lettered to ${path}`,
          },
          {
            level: 'error',
            message: `the billing queue is full (1 events waiting, billing.capacity): new billing events are dead-lettered to ${path} (2 more since the last report)`,
          },
        ]);
        expect(emitter.stats().billing.dropped.overflow).toBe(4);
        return emitter.stop().then(() => {
          const records = readFileSync(path, 'utf8')
            .trim()
            .split('\n')
            .map((l) => JSON.parse(l) as { eid: string; reason: string; error: string });
          expect(records.filter((r) => r.reason === 'overflow').map((r) => r.eid)).toEqual(over);
          expect(records[0].error).toBe('the billing queue was full (billing.capacity 1)');
        });
      } finally {
        clock.mockRestore();
      }
    });
  });

  describe('what the emitter hands the client', () => {
    it('the httpClient given, the token source with the collector origin as audience, requestTimeoutMs', async () => {
      const http = axios.create();
      let viaGiven = 0;
      http.interceptors.request.use((config) => {
        viaGiven++;
        return config;
      });
      const audiences: string[] = [];
      const tokenSource: TokenSource = {
        async enhanceHeader(headers, audience) {
          audiences.push(audience);
          headers.Authorization = 'Bearer abc';
        },
      };
      const failures: SendResult[] = [];
      collector.behaviour = (_r, index) => (index === 0 ? { hang: true } : { status: 200 });
      const { emitter, tracker } = make({
        httpClient: http,
        tokenSource,
        // Long enough that the second request's answer never times out too on a loaded machine.
        requestTimeoutMs: 1_000,
        lingerMs: 0,
        backoff: { baseMs: 1, capMs: 2 },
        callback: (_ok, failed) => void failures.push(...failed),
      });
      tracker.trackEvent('a');
      await expect(emitter.drain(5_000)).resolves.toMatchObject({ sent: 1, drained: true });
      expect(viaGiven).toBe(2);
      expect(audiences).toEqual([new URL(collector.endpoint).origin, new URL(collector.endpoint).origin]);
      expect(collector.requests[1].headers.authorization).toBe('Bearer abc');
      expect(failures.map((f) => (f.error as { code?: string } | undefined)?.code)).toEqual(['ECONNABORTED']);
    });

    it('a custom event overwritten in a full custom lane is counted as overflow', () => {
      const { emitter, tracker } = make({ capacity: 2 });
      for (let i = 0; i < 3; i++) tracker.trackEvent('a', { i });
      expect(emitter.stats().custom).toMatchObject({ queued: 2, dropped: { overflow: 1 } });
    });

    it('after a success the backoff starts over', async () => {
      const statuses = [503, 200, 503, 200];
      collector.behaviour = (_r, index) => ({ status: statuses[index] ?? 200 });
      // Full jitter at 0.99: the first retry waits ~200 ms, a second failure in a row ~30 s (the cap),
      // so a generous deadline still tells them apart on a loaded machine.
      const random = jest.spyOn(Math, 'random').mockReturnValue(0.99);
      try {
        const { emitter, tracker } = make({ lingerMs: 0, backoff: { baseMs: 200, factor: 1_000, capMs: 30_000 } });
        emitter.start();
        tracker.trackEvent('a');
        // Idle before 'b': tracked while the pass that delivers 'a' is still out, 'b' would join
        // that pass, which then counts as failed and backs off without a reset.
        expect(await emitter.drain(10_000)).toMatchObject({ sent: 1, drained: true });
        tracker.trackEvent('b');
        await collector.waitForEvents(2, 10_000);
        const [, , failed, retried] = collector.requests;
        expect(retried.receivedAt - failed.receivedAt).toBeLessThan(10_000);
      } finally {
        random.mockRestore();
      }
    });
  });

  describe('the log', () => {
    it('a repeating problem is told once per run of failures, again after a success', async () => {
      const { lines, logger } = recordingLogger();
      const statuses = [404, 404, 200, 404, 200];
      collector.behaviour = (_r, index) => ({ status: statuses[index] ?? 200 });
      const { emitter, tracker } = make({ logger, lingerMs: 0, backoff: { baseMs: 1, capMs: 2 } });
      tracker.trackEvent('a');
      await expect(emitter.drain(5_000)).resolves.toMatchObject({ sent: 1, drained: true });
      tracker.trackEvent('b');
      await expect(emitter.drain(5_000)).resolves.toMatchObject({ sent: 1, drained: true });
      expect(collector.requests).toHaveLength(5);
      const told = lines.filter((l) => l.message.startsWith('the collector answered HTTP 404'));
      expect(told).toHaveLength(2);
      expect(told.every((l) => l.level === 'error')).toBe(true);
    });

    it('a logger whose methods use `this` is called as a method; a throwing one is ignored', async () => {
      class ThisLogger {
        readonly lines: string[] = [];
        log(message: string) {
          this.lines.push(`log ${message}`);
        }
        warn(message: string) {
          this.lines.push(`warn ${message}`);
        }
        error(): void {
          throw new Error('logger exploded');
        }
      }
      const logger = new ThisLogger();
      const { emitter, tracker } = make({ logger, storage: new RingBufferStorage(10, 1) });
      tracker.trackBillingEvent(BILL);
      expect(() => tracker.trackBillingEvent(BILL)).not.toThrow();
      tracker.trackEvent('kept');
      await emitter.stop();
      expect(logger.lines).toEqual(['log 2 events kept in the event store you passed for the next start']);
    });

    it('without a logger: the console, with the library prefix, at each level', async () => {
      const calls: string[] = [];
      const spies = (['log', 'warn', 'error'] as const).map((level) =>
        jest
          .spyOn(console, level)
          .mockImplementation((...args: unknown[]) => void calls.push(`${level} ${String(args[0])}`)),
      );
      try {
        const kept = new Emitter({ collectorUrl: collector.endpoint, storage: new RingBufferStorage(10, 10) });
        new Tracker({ appId: 'console', emitter: kept }).trackEvent('kept');
        await kept.stop();
        const dropped = new Emitter({ collectorUrl: collector.endpoint });
        new Tracker({ appId: 'console', emitter: dropped }).trackEvent('dropped');
        await dropped.stop();
        const billing = new Emitter({ collectorUrl: collector.endpoint, billing: { capacity: 1 } });
        const tracker = new Tracker({ appId: 'console', emitter: billing });
        tracker.trackBillingEvent(BILL);
        tracker.trackBillingEvent(BILL);
        await billing.stop();
      } finally {
        spies.forEach((spy) => spy.mockRestore());
      }
      expect(calls[0]).toBe('log [nestjs-snowplow] 1 events kept in the event store you passed for the next start');
      expect(calls[1]).toBe('warn [nestjs-snowplow] 1 events not delivered at shutdown (0 billing) were dropped');
      expect(calls[2]).toMatch(/^error \[nestjs-snowplow\] the billing queue is full \(1 events waiting/);
    });

    it('a held-back report says how many were held back; the next one after a quiet interval does not', () => {
      const { lines, logger } = recordingLogger();
      let now = 5_000_000;
      const clock = jest.spyOn(Date, 'now').mockImplementation(() => now);
      try {
        const { tracker } = make({ billing: { capacity: 1 }, logger });
        tracker.trackBillingEvent(BILL);
        tracker.trackBillingEvent(BILL);
        now += 10_000;
        tracker.trackBillingEvent(BILL);
        now += 10_000;
        tracker.trackBillingEvent(BILL);
      } finally {
        clock.mockRestore();
      }
      const full = lines.filter((l) => l.message.startsWith('the billing queue is full'));
      expect(full).toHaveLength(3);
      expect(full.every((l) => !l.message.includes('more since the last report'))).toBe(true);
    });
  });

  describe('observer', () => {
    const observer = (over: Partial<EmitterObserver> = {}): EmitterObserver & { enqueued: number[] } => {
      const enqueued: number[] = [];
      return {
        enqueued,
        eventsEnqueued: (n) => void enqueued.push(n),
        requestFinished: () => undefined,
        eventsSent: () => undefined,
        eventsDropped: () => undefined,
        authFailed: () => undefined,
        ...over,
      };
    };

    it('hears each enqueue as one event', () => {
      const o = observer();
      const { tracker } = make({ observer: o });
      tracker.trackEvent('a');
      tracker.trackBillingEvent(BILL);
      expect(o.enqueued).toEqual([1, 1]);
    });

    it('an observer that throws something other than an Error: logged as text', () => {
      const { lines, logger } = recordingLogger();
      const o = observer({
        eventsEnqueued: () => {
          throw 'plain text';
        },
      });
      make({ observer: o, logger }).tracker.trackEvent('a');
      expect(lines).toEqual([{ level: 'error', message: 'metrics observer threw: plain text' }]);
    });

    it('a throwing observer is logged at error level and changes nothing', async () => {
      const { lines, logger } = recordingLogger();
      const o = observer({
        eventsEnqueued: () => {
          throw new Error('observer exploded');
        },
      });
      const { emitter, tracker } = make({ observer: o, logger, lingerMs: 0 });
      expect(() => tracker.trackEvent('a')).not.toThrow();
      expect(lines).toEqual([{ level: 'error', message: 'metrics observer threw: observer exploded' }]);
      await expect(emitter.drain(5_000)).resolves.toEqual({ sent: 1, remaining: 0, drained: true });
    });
  });

  describe('start, drain and stop', () => {
    it('events the store reports but will not lease (another process holds them): the loop waits, not spins', async () => {
      class HeldElsewhere extends RingBufferStorage {
        leases = 0;
        override lease(): never[] {
          this.leases++;
          return [];
        }
      }
      const storage = new HeldElsewhere(10, 10);
      const { emitter, tracker } = make({ storage, lingerMs: 0, maxConcurrentRequests: 1 });
      tracker.trackEvent('a');
      await expect(emitter.drain(300)).resolves.toEqual({ sent: 0, remaining: 1, drained: false });
      expect(storage.leases).toBeGreaterThanOrEqual(1);
      expect(storage.leases).toBeLessThanOrEqual(2);
    });

    it('drain() on an idle emitter resolves at once, drained, without starting it', async () => {
      const { emitter } = make();
      await expect(emitter.drain(60_000)).resolves.toEqual({ sent: 0, remaining: 0, drained: true });
      expect(collector.requests).toHaveLength(0);
    });

    it("drain() after stop, with events kept in a caller's store: at once, not drained, what remains", async () => {
      const storage = new RingBufferStorage(10, 10);
      const { emitter, tracker } = make({ storage });
      tracker.trackEvent('a');
      tracker.trackEvent('b');
      await emitter.stop();
      await expect(emitter.drain(60_000)).resolves.toEqual({ sent: 0, remaining: 2, drained: false });
      emitter.start();
      expect(collector.requests).toHaveLength(0);
    });

    it('start() twice runs one loop: one batch in flight with maxConcurrentRequests 1', async () => {
      collector.behaviour = () => ({ hang: true });
      const { emitter, tracker } = make({ batchSize: 1, maxBatchSize: 1, maxConcurrentRequests: 1, lingerMs: 0 });
      tracker.trackEvent('a');
      tracker.trackEvent('b');
      emitter.start();
      emitter.start();
      await waitFor(() => emitter.stats().inFlight > 0, { timeoutMs: 10_000 });
      await expect(emitter.drain(150)).resolves.toEqual({ sent: 0, remaining: 2, drained: false });
      expect(emitter.stats()).toMatchObject({ inFlight: 1, queued: 1 });
    });

    it('drain() returns when idle, with the count sent, though lingerMs is long', async () => {
      const { emitter, tracker } = make({ lingerMs: 60_000, batchSize: 100 });
      emitter.start();
      tracker.trackEvent('a');
      await expect(emitter.drain(5_000)).resolves.toEqual({ sent: 1, remaining: 0, drained: true });
      tracker.trackEvent('b');
      tracker.trackEvent('c');
      await expect(emitter.drain(5_000)).resolves.toEqual({ sent: 2, remaining: 0, drained: true });
    });

    it('drain() does not linger for events that arrive while it waits', async () => {
      const late: { tracker?: Tracker } = {};
      let calls = 0;
      const { emitter, tracker } = make({
        lingerMs: 60_000,
        batchSize: 100,
        // The first pass's report queues one more: the next pass must not linger while drain() waits.
        callback: () => {
          if (calls++ === 0) late.tracker?.trackEvent('b');
        },
      });
      late.tracker = tracker;
      tracker.trackEvent('a');
      await expect(emitter.drain(5_000)).resolves.toEqual({ sent: 2, remaining: 0, drained: true });
      expect(collector.requests).toHaveLength(2);
    });

    it('drain() after stop on an emptied emitter: drained', async () => {
      const { emitter, tracker } = make();
      tracker.trackEvent('a');
      await emitter.stop();
      await expect(emitter.drain(60_000)).resolves.toEqual({ sent: 0, remaining: 0, drained: true });
    });

    it("a stop() during drain() with events kept in a caller's store: woken, but not drained", async () => {
      collector.behaviour = () => ({ hang: true });
      const { emitter, tracker } = make({ lingerMs: 0, storage: new RingBufferStorage(10, 10) });
      tracker.trackEvent('a');
      const draining = emitter.drain(60_000);
      await waitFor(() => collector.requests.length === 1, { timeoutMs: 10_000 });
      await emitter.stop();
      await expect(draining).resolves.toEqual({ sent: 0, remaining: 1, drained: false });
    });

    it('a stop() while draining wakes the drain at once', async () => {
      collector.behaviour = () => ({ hang: true });
      const { emitter, tracker } = make({ lingerMs: 0 });
      tracker.trackEvent('a');
      // A deadline past what a timer can hold is clamped, not fired at once.
      const draining = emitter.drain(Number.MAX_SAFE_INTEGER);
      await waitFor(() => collector.requests.length === 1, { timeoutMs: 10_000 });
      await emitter.stop();
      await expect(draining).resolves.toEqual({ sent: 0, remaining: 0, drained: true });
    });
  });

  describe('lingering for a fuller batch', () => {
    it('a partial batch waits lingerMs before it is sent', async () => {
      const { emitter, tracker } = make({ lingerMs: 300, batchSize: 10 });
      emitter.start();
      const at = Date.now();
      tracker.trackEvent('a');
      await new Promise((resolve) => setImmediate(resolve));
      // A second event while lingering, the batch still partial: the linger goes on.
      tracker.trackEvent('b');
      await collector.waitForEvents(2, 10_000);
      expect(collector.requests).toHaveLength(1);
      expect(collector.requests[0].receivedAt - at).toBeGreaterThanOrEqual(250);
    });

    it('after a drain(), a partial batch lingers again', async () => {
      const { emitter, tracker } = make({ lingerMs: 300, batchSize: 10 });
      tracker.trackEvent('a');
      await expect(emitter.drain(5_000)).resolves.toMatchObject({ sent: 1, drained: true });
      const at = Date.now();
      tracker.trackEvent('b');
      await collector.waitForEvents(2, 10_000);
      expect(collector.requests[1].receivedAt - at).toBeGreaterThanOrEqual(250);
    });

    it('once a linger is over, a full batch does not cut a backoff sleep short', async () => {
      collector.behaviour = (_r, index) => (index === 0 ? { status: 503 } : { status: 200 });
      // The jitter source is taken when the emitter is built: the first backoff is about 30 s.
      const random = jest.spyOn(Math, 'random').mockReturnValue(0.99);
      try {
        const { emitter, tracker } = make({ lingerMs: 10, batchSize: 2, backoff: { baseMs: 60_000 } });
        emitter.start();
        tracker.trackEvent('a');
        await waitFor(() => emitter.stats().consecutiveFailures === 1, { timeoutMs: 10_000 });
        await new Promise((resolve) => setImmediate(resolve));
        tracker.trackEvent('b');
        tracker.trackEvent('c');
        // A woken loop would have leased the batch by the end of this turn (no timer involved).
        await new Promise((resolve) => setImmediate(resolve));
        expect(emitter.stats().inFlight).toBe(0);
        expect(collector.requests).toHaveLength(1);
      } finally {
        random.mockRestore();
      }
    });

    it('exactly a batch queued before start goes out at once', async () => {
      const { emitter, tracker } = make({ lingerMs: 60_000, batchSize: 3 });
      for (let i = 0; i < 3; i++) tracker.trackEvent('a', { i });
      emitter.start();
      await collector.waitForEvents(3, 10_000);
      expect(collector.requests).toHaveLength(1);
    });

    it('the event that makes a full batch ends the linger', async () => {
      const { emitter, tracker } = make({ lingerMs: 60_000, batchSize: 3 });
      emitter.start();
      tracker.trackEvent('a');
      tracker.trackEvent('b');
      await new Promise((resolve) => setImmediate(resolve));
      tracker.trackEvent('c');
      await collector.waitForEvents(3, 10_000);
      expect(collector.requests).toHaveLength(1);
    });

    it('a flush() before start() means the first batch does not linger', async () => {
      const { emitter, tracker } = make({ lingerMs: 60_000, batchSize: 10 });
      tracker.trackEvent('a');
      emitter.flush();
      emitter.start();
      await collector.waitForEvents(1, 10_000);
    });

    it('flush() ends the linger', async () => {
      const { emitter, tracker } = make({ lingerMs: 60_000, batchSize: 10 });
      emitter.start();
      tracker.trackEvent('a');
      await new Promise((resolve) => setImmediate(resolve));
      emitter.flush();
      await collector.waitForEvents(1, 10_000);
    });
  });
});
