// Every documented SnowplowModule option, each shown to take effect through a real app and a
// loopback collector: what arrived there, what the stats, callback, dead-letter file or logs said.
import { INestApplication } from '@nestjs/common';
import { HttpService } from '@nestjs/axios';
import axios from 'axios';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { register } from 'prom-client';
import {
  EmitterService,
  EventTooLargeError,
  SendResult,
  SnowplowModule,
  SnowplowModuleOptions,
  TrackerService,
} from '../../lib';
import { Emitter } from '../../lib/core';
import { SNOWPLOW_EMITTER } from '../../lib/module/snowplow.tokens';
import { decodeAccepted, FIXTURE_IGLU_DIR } from '../support/decode';
import { createApp } from '../support/nest';
import { LocalCollector, startLocalCollector } from '../../lib/testing/local-collector';
import { waitFor } from '../support/wait-for';

interface Probe {
  collector: LocalCollector;
  dir: string;
  app: () => Promise<INestApplication>;
  tracker: () => TrackerService;
  emitter: () => EmitterService;
}

const billing = { category: 'c', eventType: 'seats', realm: 'SM' as const, unitOfMeasure: 'seat', quantity: 1 };
const bodies = (collector: LocalCollector) => collector.requests.map((r) => JSON.parse(r.body).data as unknown[]);

describe('each SnowplowModule option takes effect', () => {
  let collector: LocalCollector;
  let dir: string;
  let app: INestApplication | undefined;
  beforeEach(async () => {
    register.clear();
    collector = await startLocalCollector();
    dir = mkdtempSync(join(tmpdir(), 'snowplow-options-'));
  });
  afterEach(async () => {
    await app?.close();
    app = undefined;
    await collector.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const cases: Array<
    [keyof SnowplowModuleOptions, (p: Probe) => Partial<SnowplowModuleOptions>, (p: Probe) => Promise<void>]
  > = [
    [
      'namespace',
      () => ({ namespace: 'ns-x' }),
      async ({ tracker, collector: c }) => {
        tracker().trackEvent('e');
        expect((await c.waitForEvents(1))[0].tna).toBe('ns-x');
      },
    ],
    [
      'userAgent',
      () => ({ userAgent: 'agent-x/1' }),
      async ({ tracker, collector: c }) => {
        tracker().trackEvent('e');
        expect((await c.waitForEvents(1))[0].ua).toBe('agent-x/1');
      },
    ],
    [
      'batchSize',
      // Batches grow past batchSize only up to maxBatchSize: equal, they are cut at batchSize.
      () => ({ batchSize: 7, maxBatchSize: 7 }),
      async ({ tracker, emitter, collector: c }) => {
        for (let i = 0; i < 30; i++) tracker().trackEvent('e', { i });
        await emitter().drain(10_000);
        expect(
          bodies(c)
            .map((b) => b.length)
            .sort(),
        ).toEqual([2, 7, 7, 7, 7]);
      },
    ],
    [
      'maxBatchSize',
      () => ({ batchSize: 5, maxBatchSize: 12, maxConcurrentRequests: 1 }),
      async ({ tracker, emitter, collector: c }) => {
        for (let i = 0; i < 60; i++) tracker().trackEvent('e', { i });
        await emitter().drain(10_000);
        const sizes = bodies(c).map((b) => b.length);
        expect(sizes.reduce((a, b) => a + b, 0)).toBe(60);
        expect(Math.max(...sizes)).toBe(12);
      },
    ],
    [
      'capacity',
      () => ({ capacity: 5, maxConcurrentRequests: 1, batchSize: 1, maxBatchSize: 1 }),
      async ({ tracker, emitter, collector: c }) => {
        c.behaviour = () => ({ hang: true });
        for (let i = 0; i < 8; i++) tracker().trackEvent('e', { i });
        expect(emitter().stats()).toMatchObject({ capacity: 5, dropped: { overflow: 3 } });
      },
    ],
    [
      'billing',
      () => ({ billing: { capacity: 2 } }),
      async ({ tracker, emitter, collector: c }) => {
        c.behaviour = () => ({ hang: true });
        for (let i = 0; i < 3; i++) tracker().trackBillingEvent(billing);
        expect(emitter().stats().billing).toMatchObject({ capacity: 2, dropped: { overflow: 1 } });
      },
    ],
    [
      'deadLetter',
      ({ dir: d }) => ({ deadLetter: { path: join(d, 'dead.jsonl') } }),
      async ({ tracker, emitter, collector: c, dir: d }) => {
        c.behaviour = () => ({ status: 400 });
        const { eid } = tracker().trackEvent('refused');
        await waitFor(() => emitter().stats().dropped.rejected === 1, { what: 'the rejection' });
        await waitFor(
          () => existsSync(join(d, 'dead.jsonl')) && readFileSync(join(d, 'dead.jsonl'), 'utf8').includes(eid),
          {
            what: 'the dead letter',
          },
        );
        expect(JSON.parse(readFileSync(join(d, 'dead.jsonl'), 'utf8'))).toMatchObject({ eid, reason: 'rejected' });
      },
    ],
    [
      'storage',
      ({ dir: d }) => ({ storage: { type: 'sqlite', path: join(d, 'outbox.db') } }),
      async ({ tracker, collector: c, dir: d }) => {
        tracker().trackBillingEvent(billing);
        expect(existsSync(join(d, 'outbox.db'))).toBe(true);
        await c.waitForEvents(1);
      },
    ],
    [
      'requestTimeoutMs',
      () => ({ requestTimeoutMs: 200 }),
      async ({ tracker, emitter, collector: c }) => {
        c.behaviour = (_r, index) => (index === 0 ? { hang: true } : { status: 200 });
        tracker().trackEvent('e');
        await c.waitForEvents(1);
        expect(emitter().stats().lastError).toMatch(/timeout of 200ms/);
      },
    ],
    [
      'callback',
      () => ({ callback: (s: SendResult[]) => void delivered.push(...s.flatMap((r) => r.eids)) }),
      async ({ tracker }) => {
        const { eid } = tracker().trackEvent('e');
        await waitFor(() => delivered.includes(eid), { what: 'the callback' });
      },
    ],
    [
      'tokenSource',
      () => ({
        tokenSource: {
          enhanceHeader: async (headers: Record<string, string>, audience: string) => {
            headers.Authorization = `Bearer for ${audience}`;
          },
        },
      }),
      async ({ tracker, collector: c }) => {
        tracker().trackEvent('e');
        await c.waitForEvents(1);
        expect(c.requests[0].headers.authorization).toBe(`Bearer for ${c.url}`);
      },
    ],
    [
      'audience',
      () => ({
        audience: 'https://billing.example.com',
        tokenSource: {
          enhanceHeader: async (headers: Record<string, string>, audience: string) => {
            headers.Authorization = `Bearer for ${audience}`;
          },
        },
      }),
      async ({ tracker, collector: c }) => {
        tracker().trackEvent('e');
        await c.waitForEvents(1);
        expect(c.requests[0].headers.authorization).toBe('Bearer for https://billing.example.com');
      },
    ],
    [
      'shutdownTimeoutMs',
      () => ({ shutdownTimeoutMs: 300 }),
      async ({ tracker, emitter, collector: c }) => {
        c.behaviour = () => ({ hang: true });
        tracker().trackEvent('stuck');
        await waitFor(() => c.requests.length === 1, { what: 'the hanging request' });
        const started = Date.now();
        await app!.close();
        app = undefined;
        expect(Date.now() - started).toBeGreaterThanOrEqual(295);
        expect(emitter().stats().dropped.shutdown).toBe(1);
      },
    ],
    [
      'metrics',
      () => ({ metrics: { prefix: 'opt_' } }),
      async ({ tracker, collector: c }) => {
        tracker().trackEvent('e');
        await c.waitForEvents(1);
        expect(await register.metrics()).toContain('opt_events_enqueued_total{tracker="default"} 1');
      },
    ],
    [
      'maxBatchBytes',
      () => ({ maxBatchBytes: 3_000 }),
      async ({ tracker, emitter, collector: c }) => {
        for (let i = 0; i < 20; i++) tracker().trackEvent('e', { pad: 'p'.repeat(500) });
        await emitter().drain(10_000);
        expect(c.requests.length).toBeGreaterThan(1);
        expect(c.requests.every((r) => Buffer.byteLength(r.body) <= 3_000)).toBe(true);
      },
    ],
    [
      'maxEventBytes',
      () => ({ maxEventBytes: 1_000 }),
      async ({ tracker }) => {
        expect(() => tracker().trackEvent('e', { pad: 'p'.repeat(1_000) })).toThrow(EventTooLargeError);
        expect(() => tracker().trackEvent('e', { pad: 'p'.repeat(100) })).not.toThrow();
      },
    ],
    [
      'maxConcurrentRequests',
      () => ({ maxConcurrentRequests: 3, batchSize: 1, maxBatchSize: 1 }),
      async ({ tracker, emitter, collector: c }) => {
        c.behaviour = () => ({ hang: true });
        for (let i = 0; i < 10; i++) tracker().trackEvent('e', { i });
        await waitFor(() => c.requests.length === 3, { what: 'three requests' });
        expect(emitter().stats().inFlight).toBe(3);
      },
    ],
    [
      'lingerMs',
      () => ({ lingerMs: 60_000 }),
      async ({ tracker, emitter, collector: c }) => {
        tracker().trackEvent('e');
        await new Promise((resolve) => setImmediate(resolve));
        expect(emitter().stats().queued).toBe(1);
        expect(c.requests).toHaveLength(0);
        emitter().flush();
        await c.waitForEvents(1);
      },
    ],
    [
      'backoff',
      () => {
        // The emitter takes its jitter source when it is built: maxed before the app starts.
        const random = jest.spyOn(Math, 'random').mockReturnValue(0.9999);
        cleanups.push(() => random.mockRestore());
        return { backoff: { baseMs: 400, factor: 1, capMs: 400 } };
      },
      async ({ tracker, collector: c }) => {
        c.behaviour = (_r, index) => (index === 0 ? { status: 500 } : { status: 200 });
        tracker().trackEvent('e');
        await c.waitForEvents(1);
        expect(c.requests[1].receivedAt - c.requests[0].receivedAt).toBeGreaterThanOrEqual(390);
      },
    ],
    [
      'retryStatusCodes',
      () => ({ retryStatusCodes: [400], backoff: { baseMs: 1, capMs: 1 } }),
      async ({ tracker, emitter, collector: c }) => {
        c.behaviour = (_r, index) => (index === 0 ? { status: 400 } : { status: 200 });
        tracker().trackEvent('e');
        await c.waitForEvents(1);
        expect(emitter().stats().dropped.rejected).toBe(0);
      },
    ],
    [
      'dontRetryStatusCodes',
      () => ({ dontRetryStatusCodes: [418] }),
      async ({ tracker, emitter, collector: c }) => {
        c.behaviour = () => ({ status: 418 });
        tracker().trackEvent('e');
        await waitFor(() => emitter().stats().dropped.rejected === 1, { what: 'the 418 to be final' });
        expect(c.requests).toHaveLength(1);
      },
    ],
    [
      'maxRetryAfterMs',
      () => ({ maxRetryAfterMs: 300, backoff: { baseMs: 1, capMs: 1 } }),
      async ({ tracker, collector: c }) => {
        c.behaviour = (_r, index) =>
          index === 0 ? { status: 429, headers: { 'Retry-After': '3600' } } : { status: 200 };
        tracker().trackEvent('e');
        await c.waitForEvents(1);
        expect(c.requests[1].receivedAt - c.requests[0].receivedAt).toBeGreaterThanOrEqual(300);
      },
    ],
    [
      'maxAttempts',
      () => ({ maxAttempts: 3, backoff: { baseMs: 1, capMs: 1 } }),
      async ({ tracker, emitter, collector: c }) => {
        c.behaviour = () => ({ status: 503 });
        tracker().trackEvent('e');
        await waitFor(() => emitter().stats().dropped.expired === 1, { what: 'the event to expire' });
        expect(c.requests).toHaveLength(3);
      },
    ],
    [
      'maxEventAgeMs',
      () => ({ maxEventAgeMs: 300, backoff: { baseMs: 1, capMs: 1 } }),
      async ({ tracker, emitter, collector: c }) => {
        c.behaviour = () => ({ status: 503, headers: { 'Retry-After': '1' } });
        tracker().trackEvent('e');
        await waitFor(() => emitter().stats().dropped.expired === 1, { what: 'the event to expire' });
        // The first failure was young; the retry a second later found it too old.
        expect(c.requests).toHaveLength(2);
      },
    ],
    [
      'exitDrainTimeoutMs',
      () => ({ exitDrainTimeoutMs: 1_234 }),
      async ({ app }) => {
        // The script-end behaviour itself is shown in child processes (emitter/emitter-script-end.spec.ts).
        const emitter = (await app()).get<Emitter>(SNOWPLOW_EMITTER);
        expect(emitter.options.exitDrainTimeoutMs).toBe(1_234);
      },
    ],
    [
      'http',
      () => ({ http: { headers: { 'X-Tenant': 'acme' } } }),
      async ({ tracker, collector: c }) => {
        tracker().trackEvent('e');
        await c.waitForEvents(1);
        expect(c.requests[0].headers['x-tenant']).toBe('acme');
      },
    ],
    [
      'httpService',
      () => ({ httpService: new HttpService(axios.create({ headers: { 'X-From-Http-Service': 'yes' } })) }),
      async ({ tracker, collector: c }) => {
        tracker().trackEvent('e');
        await c.waitForEvents(1);
        expect(c.requests[0].headers['x-from-http-service']).toBe('yes');
      },
    ],
    [
      'validate',
      () => ({ validate: { schemas: FIXTURE_IGLU_DIR } }),
      async ({ tracker, collector: c }) => {
        const checkout = 'iglu:com.acme/checkout/jsonschema/1-0-0';
        expect(() =>
          tracker().trackSelfDescribingEvent({ schema: checkout, data: { orderId: 'o', total: -1 } }),
        ).toThrow(expect.objectContaining({ code: 'SCHEMA_VALIDATION_FAILED', field: 'event.data.total' }));
        const { eid } = tracker().trackSelfDescribingEvent({ schema: checkout, data: { orderId: 'o', total: 1 } });
        expect((await c.waitForEvents(1)).map((event) => event.eid)).toEqual([eid]);
      },
    ],
  ];
  let delivered: string[] = [];
  const cleanups: Array<() => void> = [];
  afterEach(() => cleanups.splice(0).forEach((cleanup) => cleanup()));

  it.each(cases)('%s', async (_name, options, probe) => {
    delivered = [];
    const p: Probe = {
      collector,
      dir,
      app: async () => app!,
      tracker: () => app!.get(TrackerService),
      emitter: () => emitterService,
    };
    app = await createApp({
      imports: [
        SnowplowModule.forRoot({
          collectorUrl: collector.endpoint,
          appId: 'options',
          metrics: false,
          // Cases that leave a request hanging close quickly; the shutdownTimeoutMs case sets its own.
          shutdownTimeoutMs: 200,
          ...options(p),
        }),
      ],
    });
    const emitterService = app.get(EmitterService);
    await probe(p);
  });

  it('appId', async () => {
    app = await createApp({
      imports: [SnowplowModule.forRoot({ collectorUrl: collector.endpoint, appId: 'the-app', metrics: false })],
    });
    app.get(TrackerService).trackEvent('e');
    await collector.waitForEvents(1);
    expect(decodeAccepted(collector)[0].raw.aid).toBe('the-app');
  });
});
