// The SQLite outbox under volume, through the emitter: the file stays bounded when capacity is
// reached again and again, and the WAL is checkpointed as delivered rows are deleted.
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Emitter, Tracker } from '../../lib/core';
import { quietLogger } from '../support/emitter-harness';
import { LocalCollector, startLocalCollector } from '../../lib/testing/local-collector';
import { outboxEmitter } from './support/outbox-emitter';
import { walFrames } from './support/wal';

const nextTick = () => new Promise((resolve) => setImmediate(resolve));

let dir: string;
let path: string;
let collector: LocalCollector;
beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'snowplow-volume-'));
  path = join(dir, 'outbox.db');
  collector = await startLocalCollector();
});
afterEach(async () => {
  await collector.close();
  rmSync(dir, { recursive: true, force: true });
});

const emitterOn = (storage: Parameters<typeof outboxEmitter>[1], batchSize?: number) =>
  outboxEmitter(collector.endpoint, storage, batchSize);

describe('the outbox under volume', () => {
  it('the file stays bounded: 30 rounds of 1,200 events into a capacity of 1,000 (the oldest 200 overwritten each round)', async () => {
    const emitter = new Emitter({
      collectorUrl: collector.endpoint,
      storage: { type: 'sqlite', path, capacity: 1_000 },
      logger: quietLogger,
    });
    emitter.start();
    const tracker = new Tracker({ appId: 'bounded', emitter });
    let peak = 0;
    const newest: string[] = [];
    for (let round = 0; round < 30; round++) {
      // Requests wait at the collector until the round is tracked, so nothing leaves the file
      // meanwhile: 1,000 rows (in flight included) fill it, and 200 more push the oldest out.
      let release!: () => void;
      const gate = new Promise<void>((resolve) => (release = resolve));
      collector.behaviour = () => ({ status: 200, after: gate });
      const eids = Array.from(
        { length: 1_000 },
        (_, i) => tracker.trackEvent('bounded', { round, i, pad: 'x'.repeat(200) }).eid,
      );
      await nextTick(); // the first 1,000 are in the file
      eids.push(...Array.from({ length: 200 }, (_, i) => tracker.trackEvent('bounded', { round, i: 1_000 + i }).eid));
      await nextTick();
      peak = Math.max(peak, statSync(path).size + statSync(`${path}-wal`).size);
      release();
      await expect(emitter.drain(30_000)).resolves.toMatchObject({ sent: 1_000, drained: true });
      newest.push(...eids);
    }
    await emitter.stop();
    expect(emitter.stats().dropped.overflow).toBe(30 * 200);
    expect(collector.counts().accepted).toEqual({ total: 30_000, distinct: 30_000 });
    // 1,000 events of ~700 bytes is under 1 MB of rows; the file and its WAL stay within a few MB.
    expect(peak).toBeLessThan(12 * 1024 * 1024);
    expect(statSync(path).size).toBeLessThan(4 * 1024 * 1024);
  });

  it('checkpoints the WAL as delivered rows are deleted, and truncates it on close', async () => {
    const { emitter, tracker } = emitterOn({ type: 'sqlite', path }, 100);
    // capacity 10,000 (default): a checkpoint comes after that many deletes.
    const sequences = new Set<number>();
    for (let round = 0; round < 12; round++) {
      for (let i = 0; i < 1_000; i++) tracker.trackEvent('checkpointed', { round, i, pad: 'c'.repeat(100) });
      await emitter.drain(30_000);
      sequences.add(walFrames(`${path}-wal`).checkpointSeq);
    }
    // A checkpoint lets the next writer start the WAL over, which bumps its checkpoint sequence.
    expect(sequences.size).toBeGreaterThan(1);
    await emitter.stop();
    expect(collector.counts().accepted).toEqual({ total: 12_000, distinct: 12_000 });
    expect(statSync(`${path}-wal`, { throwIfNoEntry: false })?.size ?? 0).toBe(0);
  });
});
