// What stop() does with what is left: the log lines and their levels, the counts, the dead-letter
// file, and what it closes, for a store the emitter built and for one the caller passed.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Emitter, EmitterOptions, RingBufferStorage, Tracker } from '../../lib/core';
import { LocalCollector, startLocalCollector } from '../../lib/testing/local-collector';

const BILL = { category: 'c', eventType: 'seats', realm: 'SM' as const, unitOfMeasure: 'seat', quantity: 1 };

function recordingLogger() {
  const lines: Array<{ level: string; message: string }> = [];
  const at = (level: string) => (message: string) => void lines.push({ level, message });
  return { lines, logger: { log: at('log'), warn: at('warn'), error: at('error') } };
}

/** A caller's ring buffer that counts close() calls and can be made to fail. */
class CallerStorage extends RingBufferStorage {
  closed = 0;
  evictions: () => number = () => 0;
  failAdd = false;
  failSize = false;
  constructor() {
    super(100, 100);
  }
  override get size(): number {
    if (this.failSize) throw new Error('size exploded');
    return super.size;
  }
  override add(event: Parameters<RingBufferStorage['add']>[0]): number {
    if (this.failAdd) throw new Error('SQLITE_FULL: disk full');
    return super.add(event);
  }
  takeEvictions(): number {
    return this.evictions();
  }
  close(): void {
    this.closed++;
  }
}

describe('Emitter shutdown', () => {
  let collector: LocalCollector;
  let dir: string;
  const emitters: Emitter[] = [];
  // The collector is closed: nothing is ever delivered, so what stop() finds is known.
  const make = (options: Partial<EmitterOptions>) => {
    const emitter = new Emitter({ collectorUrl: collector.endpoint, lingerMs: 0, ...options });
    emitters.push(emitter);
    return { emitter, tracker: new Tracker({ appId: 'shutdown', emitter }) };
  };
  beforeEach(async () => {
    collector = await startLocalCollector();
    await collector.close();
    dir = mkdtempSync(join(tmpdir(), 'snowplow-stop-'));
  });
  afterEach(async () => {
    await Promise.all(emitters.splice(0).map((e) => e.stop()));
    rmSync(dir, { recursive: true, force: true });
  });

  it('custom events only, no dead-letter file: one warn line, exact, counted as shutdown', async () => {
    const { lines, logger } = recordingLogger();
    const { emitter, tracker } = make({ logger });
    for (let i = 0; i < 3; i++) tracker.trackEvent('late', { i });
    expect(emitter.queueDepth).toBe(3);
    await emitter.stop();
    expect(lines).toEqual([{ level: 'warn', message: '3 events not delivered at shutdown (0 billing) were dropped' }]);
    expect(emitter.stats().custom.dropped.shutdown).toBe(3);
    expect(emitter.stats().billing.dropped.shutdown).toBe(0);
    expect(emitter.queueDepth).toBe(0);
  });

  it('with billing events and a dead-letter file: an error line naming the file, and every event in it', async () => {
    const { lines, logger } = recordingLogger();
    const path = join(dir, 'dead.jsonl');
    const { emitter, tracker } = make({ logger, deadLetter: { path } });
    const eids = [tracker.trackBillingEvent(BILL).eid, tracker.trackEvent('late').eid];
    await emitter.stop();
    expect(lines).toEqual([
      {
        level: 'error',
        message: `2 events not delivered at shutdown (1 billing) were dropped; dead-lettered to ${path}`,
      },
    ]);
    const records = readFileSync(path, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { eid: string; reason: string; error: string });
    expect(records.map((r) => r.eid).sort()).toEqual([...eids].sort());
    expect(records.every((r) => r.reason === 'shutdown')).toBe(true);
    expect(records[0].error).toBe('not delivered before the emitter stopped');
    expect(emitter.stats().dropped.shutdown).toBe(2);
    expect(emitter.stats().billing.dropped.shutdown).toBe(1);
    expect(emitter.stats().custom.dropped.shutdown).toBe(1);
  });

  it('the observer hears the drops of each kind once, and none of a kind with nothing dropped', async () => {
    const drops: string[] = [];
    const observer = {
      eventsEnqueued: () => undefined,
      requestFinished: () => undefined,
      eventsSent: () => undefined,
      eventsDropped: (reason: string, kind: string, count: number) => void drops.push(`${reason} ${kind} ${count}`),
      authFailed: () => undefined,
    };
    const { emitter, tracker } = make({ logger: recordingLogger().logger, observer });
    tracker.trackEvent('a');
    tracker.trackEvent('b');
    await emitter.stop();
    expect(drops).toEqual(['shutdown custom 2']);
  });

  it('with a durable store, a dead-letter line is on disk before enqueue returns', () => {
    const path = join(dir, 'dead.jsonl');
    const { tracker } = make({
      logger: recordingLogger().logger,
      deadLetter: { path },
      billing: { capacity: 1 },
      storage: { type: 'sqlite', path: join(dir, 'outbox.db') },
    });
    tracker.trackBillingEvent(BILL);
    const { eid } = tracker.trackBillingEvent(BILL);
    expect(readFileSync(path, 'utf8')).toContain(eid);
  });

  it('nothing left: stop() logs nothing', async () => {
    const { lines, logger } = recordingLogger();
    const { emitter } = make({ logger });
    await emitter.stop();
    expect(lines).toEqual([]);
    expect(emitter.stats().dropped.shutdown).toBe(0);
  });

  it("a caller's store keeps its events, is not closed, and the log says where they are (at log level)", async () => {
    const { lines, logger } = recordingLogger();
    const storage = new CallerStorage();
    const { emitter, tracker } = make({ logger, storage });
    tracker.trackEvent('kept');
    tracker.trackBillingEvent(BILL);
    await emitter.stop();
    expect(storage.size).toBe(2);
    expect(storage.closed).toBe(0);
    expect(emitter.stats().dropped.shutdown).toBe(0);
    expect(lines).toEqual([
      { level: 'log', message: '2 events kept in the event store you passed for the next start' },
    ]);
  });

  it('a logger without log() gets the info line as a warning', async () => {
    const lines: string[] = [];
    const storage = new CallerStorage();
    const { emitter, tracker } = make({
      logger: {
        warn: (m: string) => void lines.push(`warn ${m}`),
        error: (m: string) => void lines.push(`error ${m}`),
      },
      storage,
    });
    tracker.trackEvent('kept');
    await emitter.stop();
    expect(lines).toEqual(['warn 1 events kept in the event store you passed for the next start']);
  });

  it("events the caller's store refused are held in memory, counted in queueDepth, and given up at stop", async () => {
    const { lines, logger } = recordingLogger();
    const storage = new CallerStorage();
    const { emitter, tracker } = make({ logger, storage });
    tracker.trackEvent('stored');
    storage.failAdd = true;
    tracker.trackEvent('held');
    expect(emitter.queueDepth).toBe(2);
    expect(emitter.stats()).toMatchObject({ queued: 2, custom: { queued: 2 }, billing: { queued: 0 } });
    lines.length = 0;
    await emitter.stop();
    expect(emitter.stats().custom.dropped.shutdown).toBe(1);
    expect(lines).toEqual([
      { level: 'error', message: 'could not put events back into the event store: SQLITE_FULL: disk full' },
      { level: 'warn', message: '1 events not delivered at shutdown (0 billing) were dropped' },
      { level: 'log', message: '1 events kept in the event store you passed for the next start' },
    ]);
  });

  it('a store whose size fails at stop: no kept line, stop() still resolves', async () => {
    const { lines, logger } = recordingLogger();
    const storage = new CallerStorage();
    const { emitter, tracker } = make({ logger, storage });
    tracker.trackEvent('kept');
    storage.failSize = true;
    await emitter.stop();
    storage.failSize = false;
    expect(lines).toEqual([]);
    expect(storage.size).toBe(1);
  });

  it('evictions a shared store reports are counted as custom overflow, at stop too', async () => {
    const storage = new CallerStorage();
    let pending = 4;
    storage.evictions = () => {
      const n = pending;
      pending = 0;
      return n;
    };
    const { emitter } = make({ storage, logger: recordingLogger().logger });
    await emitter.stop();
    expect(emitter.stats().custom.dropped.overflow).toBe(4);
    expect(emitter.stats().dropped.overflow).toBe(4);
    expect(emitter.stats().billing.dropped.overflow).toBe(0);
  });

  it('a store whose takeEvictions throws: an error line, and stop() still settles', async () => {
    const { lines, logger } = recordingLogger();
    const storage = new CallerStorage();
    storage.evictions = () => {
      throw new Error('evictions exploded');
    };
    const { emitter, tracker } = make({ logger, storage });
    tracker.trackEvent('kept');
    await emitter.stop();
    expect(lines).toEqual([
      { level: 'error', message: 'the event store failed to report evictions: evictions exploded' },
      { level: 'log', message: '1 events kept in the event store you passed for the next start' },
    ]);
  });

  it('closes the store it built: the SQLite outbox can be opened by another emitter at once', async () => {
    const path = join(dir, 'outbox.db');
    const { lines, logger } = recordingLogger();
    const { emitter, tracker } = make({ logger, storage: { type: 'sqlite', path } });
    tracker.trackEvent('kept');
    await emitter.stop();
    expect(lines).toEqual([
      {
        level: 'log',
        message:
          `1 events (0 billing) are kept in the outbox ${path} for the next start; they are lost if this disk ` +
          'does not outlive the process (a pod with an ephemeral disk: use a persistent volume or the PostgreSQL store)',
      },
    ]);
    const next = make({ logger, storage: { type: 'sqlite', path } }).emitter;
    expect(next.queueDepth).toBe(1);
  });

  it('closes the dead-letter file: a line given up after stop() is on disk at once', async () => {
    const path = join(dir, 'dead.jsonl');
    const { emitter, tracker } = make({ logger: recordingLogger().logger, deadLetter: { path } });
    tracker.trackEvent('late');
    await emitter.stop();
    expect(existsSync(path)).toBe(true);
    expect(readFileSync(path, 'utf8').trim().split('\n')).toHaveLength(1);
  });

  it('stop() twice returns the same promise; enqueue after stop throws EmitterStoppedError', async () => {
    const { emitter, tracker } = make({ logger: recordingLogger().logger });
    const first = emitter.stop();
    expect(emitter.stop()).toBe(first);
    expect(emitter.isStopped).toBe(true);
    await first;
    expect(() => tracker.trackEvent('after')).toThrow('The Snowplow emitter is stopped and accepts no more events');
    expect(emitter.stats().stopped).toBe(true);
  });
});
