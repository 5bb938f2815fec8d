// The billing promise of a durable outbox at its edges: a full billing lane whose dead-letter line
// cannot be put on disk throws (an eid is never returned for an event stored nowhere), and leased
// rows whose release the outbox refused at stop() are kept in the file (not counted as dropped,
// not dead-lettered) and delivered once after the next start.
import { ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  BillingQueueFullError,
  DeadLetterRecord,
  Emitter,
  EmitterOptions,
  StorageError,
  Tracker,
} from '../../lib/core';
import { LocalCollector, startLocalCollector } from '../../lib/testing/local-collector';
import { decodeAccepted } from '../support/decode';
import { waitFor } from '../support/wait-for';

const ROOT = join(__dirname, '../..');
const BILL = { category: 'ci', eventType: 'ci_minutes', realm: 'SaaS', unitOfMeasure: 'minute', quantity: 7 } as const;

function recordingLogger() {
  const lines: Array<{ level: string; message: string }> = [];
  const at = (level: string) => (message: string) => void lines.push({ level, message });
  return { lines, logger: { log: at('log'), info: at('info'), warn: at('warn'), error: at('error') } };
}

function readDeadLetters(path: string): DeadLetterRecord[] {
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as DeadLetterRecord);
}

let dir: string;
const emitters: Emitter[] = [];
const children: ChildProcess[] = [];
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'billing-commit-'));
});
afterEach(async () => {
  for (const child of children.splice(0)) child.kill('SIGKILL');
  for (const emitter of emitters.splice(0)) await emitter.stop();
  rmSync(dir, { recursive: true, force: true });
});

function emitterOf(options: Partial<EmitterOptions> & Pick<EmitterOptions, 'collectorUrl'>) {
  const emitter = new Emitter({ lingerMs: 0, ...options });
  emitters.push(emitter);
  return { emitter, tracker: new Tracker({ appId: 'billing-commit', emitter }) };
}

/** A second process holding the file's write lock (BEGIN IMMEDIATE) until it is killed. */
async function holdLock(db: string): Promise<ChildProcess> {
  const script = `
    const db = new (require('better-sqlite3'))(process.env.DB);
    db.exec('BEGIN IMMEDIATE');
    process.stdout.write('locked\\n');
    setInterval(() => undefined, 1 << 30);
  `;
  const child = spawn(process.execPath, ['-e', script], { cwd: ROOT, env: { ...process.env, DB: db } });
  children.push(child);
  let out = '';
  child.stdout!.on('data', (chunk) => (out += chunk));
  await waitFor(() => out.includes('locked'), { timeoutMs: 30_000, what: 'the lock holder' });
  return child;
}

describe('a full billing lane on a durable outbox', () => {
  const NO_COLLECTOR = 'http://127.0.0.1:9/tp2';

  it('throws BillingQueueFullError when the overflow dead-letter line cannot be written (/dev/full)', () => {
    const { lines, logger } = recordingLogger();
    const { emitter, tracker } = emitterOf({
      collectorUrl: NO_COLLECTOR,
      storage: { type: 'sqlite', path: join(dir, 'outbox.db') },
      billing: { capacity: 2 },
      deadLetter: { path: '/dev/full' },
      logger,
    });
    tracker.trackBillingEvent(BILL);
    tracker.trackBillingEvent(BILL);
    let thrown: unknown;
    try {
      tracker.trackBillingEvent(BILL);
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(BillingQueueFullError);
    expect(thrown).toBeInstanceOf(StorageError);
    expect(thrown).toMatchObject({ code: 'BILLING_QUEUE_FULL', capacity: 2 });
    expect((thrown as Error).message).toContain('/dev/full');
    // Not counted as given up: the caller heard, nothing was queued.
    expect(emitter.stats().dropped.overflow).toBe(0);
    expect(emitter.queueDepth).toBe(2);
    expect(lines.filter((l) => l.message.includes('dead letter'))).toEqual([]);
  });

  it('throws BillingQueueFullError when no deadLetter file is set', () => {
    const { tracker } = emitterOf({
      collectorUrl: NO_COLLECTOR,
      storage: { type: 'sqlite', path: join(dir, 'outbox.db') },
      billing: { capacity: 2 },
      logger: recordingLogger().logger,
    });
    tracker.trackBillingEvent(BILL);
    tracker.trackBillingEvent(BILL);
    expect(() => tracker.trackBillingEvent(BILL)).toThrow(BillingQueueFullError);
  });

  it('with a writable dead-letter file, returns only once the overflow line is on disk', () => {
    const deadLetter = join(dir, 'dead.jsonl');
    const { emitter, tracker } = emitterOf({
      collectorUrl: NO_COLLECTOR,
      storage: { type: 'sqlite', path: join(dir, 'outbox.db') },
      billing: { capacity: 2 },
      deadLetter: { path: deadLetter },
      logger: recordingLogger().logger,
    });
    tracker.trackBillingEvent(BILL);
    tracker.trackBillingEvent(BILL);
    const { eid } = tracker.trackBillingEvent(BILL);
    // Read at once, in the same tick: the line was written and fsynced before the call returned.
    expect(readDeadLetters(deadLetter)).toEqual([
      expect.objectContaining({ eid, reason: 'overflow', kind: 'billing' }),
    ]);
    expect(emitter.stats().dropped.overflow).toBe(1);
  });
});

describe('a full billing lane on a durable outbox, for a caller nobody can tell (whenNotCommitted: hold)', () => {
  let collector: LocalCollector;
  beforeEach(async () => {
    collector = await startLocalCollector();
  });
  afterEach(() => collector.close());

  it('holds the bill in memory with its payload logged, and sends it later', async () => {
    const { lines, logger } = recordingLogger();
    const { emitter, tracker } = emitterOf({
      collectorUrl: collector.endpoint,
      storage: { type: 'sqlite', path: join(dir, 'outbox.db') },
      billing: { capacity: 2 },
      deadLetter: { path: '/dev/full' },
      logger,
    });
    const eids = [tracker.trackBillingEvent(BILL).eid, tracker.trackBillingEvent(BILL).eid];
    const held = tracker.trackBillingEventWithOptionalInput({ ...BILL, quantity: 4321 }, undefined, {
      whenNotCommitted: 'hold',
    });
    expect(held.notCommitted).toBeInstanceOf(BillingQueueFullError);
    expect(emitter.queueDepth).toBe(3);
    expect(lines).toContainEqual({
      level: 'error',
      message: expect.stringMatching(new RegExp(`billing event ${held.eid} could not be committed.*"se_va":"4321"`)),
    });
    emitter.start();
    expect((await emitter.drain(20_000)).drained).toBe(true);
    expect(
      decodeAccepted(collector)
        .map((event) => event.eid)
        .sort(),
    ).toEqual([...eids, held.eid].sort());
    expect(emitter.stats().dropped.overflow).toBe(0);
  });
});

describe('stop() with leased rows the durable outbox refuses to take back', () => {
  let collector: LocalCollector;
  beforeEach(async () => {
    collector = await startLocalCollector();
  });
  afterEach(() => collector.close());

  it('keeps them in the file (no drop, no dead letter); the next start delivers each once', async () => {
    const db = join(dir, 'outbox.db');
    const deadLetter = join(dir, 'dead.jsonl');
    const { lines, logger } = recordingLogger();
    // Requests hang until stop() aborts them: their events are then released into a locked file.
    collector.behaviour = () => ({ hang: true });
    const first = emitterOf({
      collectorUrl: collector.endpoint,
      storage: { type: 'sqlite', path: db, shared: true, leaseTimeoutMs: 1_000 },
      deadLetter: { path: deadLetter },
      logger,
    });
    const eids = [1, 2, 3].map(() => first.tracker.trackBillingEvent(BILL).eid);
    first.emitter.start();
    await waitFor(() => collector.inFlight >= 1, { timeoutMs: 20_000, what: 'the batch in flight' });
    const holder = await holdLock(db);
    await first.emitter.stop();

    expect(first.emitter.stats().dropped.shutdown).toBe(0);
    expect(first.emitter.stats().storageErrors).toBeGreaterThan(0);
    expect(readDeadLetters(deadLetter)).toEqual([]);
    expect(lines).toContainEqual(
      expect.objectContaining({ level: 'warn', message: expect.stringContaining('their rows are kept in it') }),
    );

    holder.kill('SIGKILL');
    await new Promise<void>((resolve) => (holder.exitCode !== null ? resolve() : holder.once('exit', () => resolve())));
    collector.behaviour = undefined;
    const second = emitterOf({
      collectorUrl: collector.endpoint,
      storage: { type: 'sqlite', path: db, shared: true },
      logger: recordingLogger().logger,
    });
    second.emitter.start();
    await waitFor(() => decodeAccepted(collector).length >= 3, { timeoutMs: 30_000, what: 'the kept rows delivered' });
    expect((await second.emitter.drain(20_000)).drained).toBe(true);
    expect(
      decodeAccepted(collector)
        .map((event) => event.eid)
        .sort(),
    ).toEqual([...eids].sort());
  });
});
