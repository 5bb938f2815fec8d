import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { EmitterStoppedError, SnowplowModule, TrackerService } from '../../lib';
import { decodeAccepted } from '../support/decode';
import { createApp } from '../support/nest';
import { LocalCollector, startLocalCollector } from '../../lib/testing/local-collector';
import { waitFor } from '../support/wait-for';

describe('shutdown', () => {
  let collector: LocalCollector;
  beforeEach(async () => {
    collector = await startLocalCollector();
  });
  afterEach(() => collector.close());

  it('app.close() drains: 1,000 queued events all arrive before close() resolves', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    collector.behaviour = () => ({ status: 200, after: gate });
    const app = await createApp({
      imports: [SnowplowModule.forRoot({ collectorUrl: collector.endpoint, appId: 'drain', metrics: false })],
    });
    const tracker = app.get(TrackerService);
    const eids = Array.from({ length: 1_000 }, (_, i) => tracker.trackEvent('queued', { i }).eid);
    await waitFor(() => collector.requests.length >= 1, { what: 'the first held request' });
    const closing = app.close();
    release();
    await closing;
    expect(collector.counts().stored).toEqual({ total: 1_000, distinct: 1_000 });
    expect(
      decodeAccepted(collector)
        .map((e) => e.eid)
        .sort(),
    ).toEqual([...eids].sort());
    expect(() => tracker.trackEvent('after')).toThrow(EmitterStoppedError);
  });

  it('with a hanging collector, close() returns within shutdownTimeoutMs plus a margin', async () => {
    collector.behaviour = () => ({ hang: true });
    const shutdownTimeoutMs = 500;
    const app = await createApp({
      imports: [
        SnowplowModule.forRoot({
          collectorUrl: collector.endpoint,
          appId: 'hang',
          shutdownTimeoutMs,
          requestTimeoutMs: 120_000,
          metrics: false,
        }),
      ],
    });
    for (let i = 0; i < 50; i++) app.get(TrackerService).trackEvent('stuck');
    await waitFor(() => collector.requests.length >= 1, { what: 'the hanging request' });
    const started = Date.now();
    await app.close();
    expect(Date.now() - started).toBeLessThan(shutdownTimeoutMs + 5_000);
    expect(Date.now() - started).toBeGreaterThanOrEqual(shutdownTimeoutMs - 5);
  });

  it('SIGTERM with enableShutdownHooks() drains every queued event before the process exits', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    collector.behaviour = () => ({ status: 200, after: gate });
    const child = spawn(
      process.execPath,
      ['-r', '@swc-node/register', join(__dirname, '../fixtures/apps/sigterm-app.ts')],
      {
        cwd: join(__dirname, '../..'),
        env: { ...process.env, COLLECTOR_URL: collector.endpoint, EVENTS: '1000' },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child.on('exit', (code, signal) => resolve({ code, signal })),
    );
    await waitFor(() => output.includes('tracked'), {
      timeoutMs: 60_000,
      what: `the child to track events (output: ${output})`,
    });
    await waitFor(() => collector.requests.length >= 1, { what: 'the first held request' });
    child.kill('SIGTERM');
    release();
    const exit = await exited;
    expect(exit.signal === 'SIGTERM' || exit.code === 0).toBe(true);
    const events = decodeAccepted(collector);
    // Every event, each once: as many arrived as there are distinct ones.
    expect(collector.counts().stored).toEqual({ total: 1_000, distinct: 1_000 });
    expect(new Set(events.map((e) => e.eid)).size).toBe(1_000);
    expect(events.every((e) => e.name === 'sigterm_event' && e.raw.aid === 'sigterm-app')).toBe(true);
  });
});
