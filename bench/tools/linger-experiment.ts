/**
 * What a send delay ("linger") would save under steady load, measured without changing lib/.
 *
 * Today the emitter sends as soon as anything is queued, so at 10,000 events/s it posts a small
 * batch on nearly every event-loop turn. This tool tracks at a steady rate against the bench
 * collector with today's emitter, then with the same emitter over a storage wrapper that hides
 * its events from the send loop until `batchSize` are queued or the oldest has waited `lingerMs`
 * (then it calls `emitter.flush()`). It prints CPU, requests/s and events per request for each.
 *
 *   npm run build && node -r ./bench/register.js bench/tools/linger-experiment.ts [--seconds 3] [--rate 10000]
 *
 * The wrapper is an experiment only: it hides queued events from `drain()` too.
 */
import { fork } from 'node:child_process';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import type * as OurModule from 'nestjs-snowplow';
import { BUILD_DIR, buildChildren } from '../build';
import { CollectorClient } from '../support/collector-client';

const ours = require('nestjs-snowplow') as typeof OurModule;

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  return i === -1 ? fallback : Number(process.argv[i + 1]);
}

/** Holds events back from the send loop until a batch is full or the oldest waited `lingerMs`. */
class LingeringStorage implements OurModule.EventStorage {
  private released = false;
  private timer?: NodeJS.Timeout;
  onRelease: () => void = () => undefined;

  constructor(
    private readonly inner: OurModule.RingBufferStorage,
    private readonly batchSize: number,
    private readonly lingerMs: number,
  ) {}

  get capacity(): number {
    return this.inner.capacity;
  }

  get size(): number {
    if (this.inner.size === 0) this.released = false;
    return this.released ? this.inner.size : 0;
  }

  add(event: OurModule.QueuedEvent): number {
    const overwritten = this.inner.add(event);
    this.check();
    return overwritten;
  }

  addBatch(events: readonly OurModule.QueuedEvent[]): number {
    const overwritten = this.inner.addBatch(events);
    this.check();
    return overwritten;
  }

  get(maxCount: number, maxBytes?: number): OurModule.QueuedEvent[] {
    return this.inner.get(maxCount, maxBytes);
  }

  lease(maxCount: number, maxBytes?: number): OurModule.QueuedEvent[] {
    return this.inner.lease(maxCount, maxBytes);
  }

  ack(): void {
    // The ring buffer hands leased events over outright: nothing to forget.
  }

  release(events: readonly OurModule.QueuedEvent[]): number {
    const overwritten = this.inner.release(events);
    this.check();
    return overwritten;
  }

  private check(): void {
    if (this.released) return;
    if (this.inner.size >= this.batchSize) {
      this.open();
    } else if (!this.timer) {
      this.timer = setTimeout(() => this.open(), this.lingerMs);
    }
  }

  private open(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.released = true;
    this.onRelease();
  }
}

async function steady(
  label: string,
  emitter: OurModule.Emitter,
  collector: CollectorClient,
  rate: number,
  seconds: number,
): Promise<void> {
  const tracker = new ours.Tracker({ appId: 'bench', emitter });
  const props = { plan: 'premium', seats: 3 };
  const run = (ms: number) =>
    new Promise<void>((resolve) => {
      const started = performance.now();
      let sent = 0;
      const timer = setInterval(() => {
        const elapsed = performance.now() - started;
        const due = Math.floor((Math.min(elapsed, ms) * rate) / 1000) - sent;
        for (let i = 0; i < due; i++) tracker.trackEvent('bench_click', props);
        sent += due;
        if (elapsed >= ms) {
          clearInterval(timer);
          resolve();
        }
      }, 1);
    });
  await run(500);
  await sleep(200);
  const before = await collector.stats();
  const loop = monitorEventLoopDelay({ resolution: 10 });
  const cpu0 = process.cpuUsage();
  const wall0 = performance.now();
  loop.enable();
  await run(seconds * 1000);
  loop.disable();
  const wallMs = performance.now() - wall0;
  const cpu = process.cpuUsage(cpu0);
  await sleep(300);
  const after = await collector.stats();
  const requests = after.requests - before.requests;
  console.log(
    `${label.padEnd(34)} CPU ${(((cpu.user + cpu.system) / 1000 / wallMs) * 100).toFixed(1).padStart(5)} %  ` +
      `requests/s ${((requests / wallMs) * 1000).toFixed(0).padStart(5)}  events/request ${((after.events - before.events) / Math.max(1, requests)).toFixed(1).padStart(6)}  ` +
      `loop delay p99 ${Math.max(0, loop.percentile(99) / 1e6 - 10).toFixed(2)} ms`,
  );
  await emitter.stop();
}

async function main(): Promise<void> {
  const seconds = arg('--seconds', 3);
  const rate = arg('--rate', 10_000);
  buildChildren();
  const proc = fork(join(BUILD_DIR, 'collector.js'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const port = await new Promise<number>((resolve) => proc.once('message', (m: { port: number }) => resolve(m.port)));
  const collector = new CollectorClient(port);
  const logger = { warn: () => undefined, error: () => undefined };
  try {
    console.log(
      `${rate.toLocaleString('en-US')} events/s for ${seconds} s, batchSize 100; the lines run in turn in this one process`,
    );
    for (const lingerMs of [0, 5, 20, 50]) {
      if (lingerMs === 0) {
        const emitter = new ours.Emitter({ collectorUrl: collector.endpoint, logger });
        emitter.start();
        await steady('today (send when anything is queued)', emitter, collector, rate, seconds);
        continue;
      }
      const storage = new LingeringStorage(new ours.RingBufferStorage(10_000), 100, lingerMs);
      const emitter = new ours.Emitter({ collectorUrl: collector.endpoint, logger, storage });
      storage.onRelease = () => emitter.flush();
      emitter.start();
      await steady(`linger ${lingerMs} ms or 100 events`, emitter, collector, rate, seconds);
    }
  } finally {
    proc.kill('SIGTERM');
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.stack : err);
  process.exit(1);
});
