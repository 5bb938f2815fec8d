// The exit drain, in this process: Node emits `beforeExit` when the event loop empties; here the
// test emits it on `process` itself, so the emitter's hook runs where the mutation run sees it.
// emitter-script-end.spec.ts checks the same at the real end of a child process.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DeadLetterRecord, Emitter, EmitterOptions, EmitterStoppedError, Tracker } from '../../lib/core';
import { LocalCollector, startLocalCollector } from '../../lib/testing/local-collector';
import { waitFor } from '../support/wait-for';

const BILL = { category: 'ci', eventType: 'minutes', realm: 'SaaS', unitOfMeasure: 'minute', quantity: 1 } as const;

describe('the exit drain (beforeExit of a script that never drained nor stopped)', () => {
  let collector: LocalCollector;
  let dir: string;
  let emitter: Emitter | undefined;
  const lines: string[] = [];
  const logger = {
    log: (message: string) => void lines.push(`log ${message}`),
    warn: (message: string) => void lines.push(`warn ${message}`),
    error: (message: string) => void lines.push(`error ${message}`),
  };
  beforeEach(async () => {
    collector = await startLocalCollector();
    dir = mkdtempSync(join(tmpdir(), 'exit-drain-'));
    lines.length = 0;
  });
  afterEach(async () => {
    await emitter?.stop();
    emitter = undefined;
    await collector.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** A started emitter with `count` billing events queued and none sent yet (the loop runs later). */
  function started(count: number, options: Partial<EmitterOptions> = {}): string[] {
    emitter = new Emitter({ collectorUrl: collector.endpoint, logger, ...options });
    emitter.start();
    const tracker = new Tracker({ appId: 'exit-drain', emitter });
    return Array.from({ length: count }, () => tracker.trackBillingEvent(BILL).eid);
  }
  const deadLetters = (path: string): DeadLetterRecord[] =>
    existsSync(path)
      ? readFileSync(path, 'utf8')
          .split('\n')
          .filter(Boolean)
          .map((line) => JSON.parse(line) as DeadLetterRecord)
      : [];
  const stopped = () => waitFor(() => emitter!.stats().stopped, { timeoutMs: 20_000, what: 'the emitter to stop' });

  it('sends what is queued, says so once, then stops the emitter', async () => {
    const eids = started(3, { exitDrainTimeoutMs: 20_000 });
    process.emit('beforeExit', 0);
    // A second beforeExit (Node fires it again once the drain's work is done) starts nothing more.
    process.emit('beforeExit', 0);
    await stopped();
    expect(
      collector
        .events()
        .map((event) => event.eid)
        .sort(),
    ).toEqual([...eids].sort());
    expect(lines).toEqual([
      'log the process is ending with 3 events not yet sent and the emitter not stopped: sending them for up to ' +
        '20000 ms (exitDrainTimeoutMs) before it exits',
    ]);
    expect(emitter!.stats()).toMatchObject({ sent: 3, queued: 0, stopped: true });
    expect(() => new Tracker({ appId: 'x', emitter: emitter! }).trackBillingEvent(BILL)).toThrow(EmitterStoppedError);
  });

  it('past exitDrainTimeoutMs, warns and stops: the events are dead-lettered with that reason', async () => {
    collector.behaviour = () => ({ hang: true });
    const deadLetter = join(dir, 'dead.jsonl');
    const eids = started(2, { exitDrainTimeoutMs: 300, deadLetter: { path: deadLetter } });
    const before = Date.now();
    process.emit('beforeExit', 0);
    await stopped();
    expect(Date.now() - before).toBeGreaterThanOrEqual(290);
    expect(lines[0]).toBe(
      'log the process is ending with 2 events not yet sent and the emitter not stopped: sending them for up to ' +
        '300 ms (exitDrainTimeoutMs) before it exits',
    );
    expect(lines[1]).toBe(
      'warn 2 events were not delivered within exitDrainTimeoutMs (300 ms) as the process ended: stopping the emitter',
    );
    const records = deadLetters(deadLetter);
    expect(records.map((r) => r.eid).sort()).toEqual([...eids].sort());
    for (const record of records) {
      expect(record).toMatchObject({
        reason: 'shutdown',
        error: 'not delivered within exitDrainTimeoutMs (300 ms) before the process ended',
      });
    }
  });

  it('does nothing for an emitter that is idle or already stopping', async () => {
    // Idle: nothing queued.
    emitter = new Emitter({ collectorUrl: collector.endpoint, logger });
    emitter.start();
    process.emit('beforeExit', 0);
    expect(emitter.stats().stopped).toBe(false);
    await emitter.stop();

    // Stopped by the script itself: stop() accounted for its events, no drain follows.
    started(1, { deadLetter: { path: join(dir, 'dead.jsonl') } });
    collector.behaviour = () => ({ hang: true });
    const stopping = emitter.stop();
    process.emit('beforeExit', 0);
    await stopping;
    expect(lines.some((line) => line.includes('the process is ending'))).toBe(false);
    expect(collector.requests).toHaveLength(0);
  });
});
