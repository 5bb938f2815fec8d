import { PrometheusModule } from '@willsoto/nestjs-prometheus';
import { INestApplication } from '@nestjs/common';
import { register, Registry } from 'prom-client';
import request from 'supertest';
import { EmitterService, SnowplowModule, TrackerService } from '../../lib';
import { createApp } from '../support/nest';
import { LocalCollector, startLocalCollector } from '../../lib/testing/local-collector';
import { waitFor } from '../support/wait-for';

/** The value of one sample line in Prometheus text format, e.g. `snowplow_events_sent_total{result="success"}`. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('Prometheus metrics', () => {
  let collector: LocalCollector;
  let app: INestApplication | undefined;
  beforeEach(async () => {
    register.clear();
    collector = await startLocalCollector();
  });
  afterEach(async () => {
    await app?.close();
    app = undefined;
    await collector.close();
  });

  it('/metrics of an app importing PrometheusModule shows every metric with the right values', async () => {
    let mode: 'ok' | 'fail-once' | 'hang' = 'ok';
    collector.behaviour = () => {
      if (mode === 'hang') return { hang: true };
      if (mode === 'fail-once') {
        mode = 'ok';
        return { status: 500 };
      }
      return { status: 200 };
    };
    app = await createApp({
      imports: [
        PrometheusModule.register(),
        SnowplowModule.forRoot({
          collectorUrl: collector.endpoint,
          appId: 'metrics',
          capacity: 5,
          shutdownTimeoutMs: 100,
          requestTimeoutMs: 120_000,
          backoff: { baseMs: 1, capMs: 5 },
          metrics: { labels: { service: 'billing' } },
        }),
      ],
    });
    const tracker = app.get(TrackerService);
    // 3 delivered at once.
    for (let i = 0; i < 3; i++) tracker.trackEvent('ok');
    await collector.waitForEvents(3);
    // 2 fail once with 500, then are delivered.
    mode = 'fail-once';
    tracker.trackEvent('retry');
    tracker.trackEvent('retry');
    await collector.waitForEvents(5);
    // 1 hangs in flight; 8 more into a buffer of 5 overwrite the 3 oldest.
    mode = 'hang';
    tracker.trackEvent('in-flight');
    await waitFor(() => collector.requests.length === 4, { what: 'the hanging request' });
    for (let i = 0; i < 8; i++) tracker.trackEvent('overflow');

    const { text } = await request(app.getHttpServer()).get('/metrics').expect(200);
    const l = 'service="billing",tracker="default"';
    expect(sample(text, `snowplow_events_enqueued_total{${l}}`)).toBe(14);
    expect(sample(text, `snowplow_events_sent_total{${l},result="success"}`)).toBe(5);
    expect(sample(text, `snowplow_events_sent_total{${l},result="failure"}`)).toBe(2);
    expect(sample(text, `snowplow_events_dropped_total{${l},reason="overflow",kind="custom"}`)).toBe(3);
    expect(sample(text, `snowplow_events_dropped_total{${l},reason="overflow",kind="billing"}`)).toBe(0);
    expect(sample(text, `snowplow_events_dropped_total{${l},reason="rejected",kind="custom"}`)).toBe(0);
    expect(sample(text, `snowplow_auth_failures_total{${l}}`)).toBe(0);
    expect(sample(text, `snowplow_dead_letter_write_failures_total{${l}}`)).toBe(0);
    expect(sample(text, `snowplow_queue_depth{${l}}`)).toBe(5);
    expect(sample(text, `snowplow_queue_capacity{${l}}`)).toBe(5);
    expect(sample(text, `snowplow_batch_duration_seconds_count{${l},result="success"}`)).toBe(2);
    expect(sample(text, `snowplow_batch_duration_seconds_count{${l},result="failure"}`)).toBe(1);
    expect(text).toContain('# TYPE snowplow_batch_duration_seconds histogram');
    expect(text).toContain('# TYPE snowplow_queue_depth gauge');
  });

  it('events given up after maxAttempts show as dropped{reason="expired"}, by kind', async () => {
    collector.behaviour = () => ({ status: 503 });
    app = await createApp({
      imports: [
        SnowplowModule.forRoot({
          collectorUrl: collector.endpoint,
          appId: 'expired',
          maxAttempts: 2,
          backoff: { baseMs: 1, capMs: 2 },
        }),
      ],
    });
    const tracker = app.get(TrackerService);
    tracker.trackEvent('doomed');
    tracker.trackEvent('doomed');
    tracker.trackBillingEvent({ category: 'c', eventType: 'seats', realm: 'SM', unitOfMeasure: 'seat', quantity: 1 });
    await waitFor(() => app!.get(EmitterService).stats().dropped.expired === 3, { what: 'the three to expire' });
    const text = await register.metrics();
    expect(sample(text, 'snowplow_events_dropped_total{tracker="default",reason="expired",kind="custom"}')).toBe(2);
    expect(sample(text, 'snowplow_events_dropped_total{tracker="default",reason="expired",kind="billing"}')).toBe(1);
    expect(sample(text, 'snowplow_events_sent_total{tracker="default",result="failure"}')).toBe(6);
    expect(sample(text, 'snowplow_events_sent_total{tracker="default",result="success"}')).toBe(0);
  });

  it('dead-letter lines that cannot be written count in snowplow_dead_letter_write_failures_total', async () => {
    collector.behaviour = () => ({ status: 400 });
    const errors: string[] = [];
    app = await createApp(
      {
        imports: [
          SnowplowModule.forRoot({ collectorUrl: collector.endpoint, appId: 'dl', deadLetter: { path: '/dev/full' } }),
        ],
      },
      { logger: { log: () => undefined, warn: () => undefined, error: (m: unknown) => void errors.push(String(m)) } },
    );
    app.get(TrackerService).trackEvent('refused');
    app.get(TrackerService).trackEvent('refused');
    await waitFor(() => errors.filter((m) => m.includes('could not write a dead letter to /dev/full')).length === 2, {
      timeoutMs: 10_000,
      what: 'two failed dead-letter writes',
    });
    expect(sample(await register.metrics(), 'snowplow_dead_letter_write_failures_total{tracker="default"}')).toBe(2);
  });

  it('a prefix renames every metric; metrics: false registers none', async () => {
    app = await createApp({
      imports: [
        SnowplowModule.forRoot({ collectorUrl: collector.endpoint, appId: 'p', metrics: { prefix: 'billing_sp_' } }),
      ],
    });
    app.get(TrackerService).trackEvent('x');
    await collector.waitForEvents(1);
    // The collector has the event before the emitter has its answer: wait for the emitter too.
    await app.get(EmitterService).drain(10_000);
    const text = await register.metrics();
    expect(sample(text, 'billing_sp_events_enqueued_total{tracker="default"}')).toBe(1);
    expect(sample(text, 'billing_sp_events_sent_total{tracker="default",result="success"}')).toBe(1);
    expect(text).not.toContain('snowplow_');
    await app.close();

    register.clear();
    app = await createApp({
      imports: [SnowplowModule.forRoot({ collectorUrl: collector.endpoint, appId: 'p', metrics: false })],
    });
    app.get(TrackerService).trackEvent('y');
    await collector.waitForEvents(2);
    expect((await register.metrics()).trim()).toBe('');
    expect(app.get(EmitterService).collector()).toBeUndefined();
  });

  it('collector() returns the registry for apps without PrometheusModule, with a custom registry too', async () => {
    const registry = new Registry();
    app = await createApp({
      imports: [SnowplowModule.forRoot({ collectorUrl: collector.endpoint, appId: 'r', metrics: { registry } })],
    });
    app.get(TrackerService).trackEvent('z');
    await collector.waitForEvents(1);
    expect(app.get(EmitterService).collector()).toBe(registry);
    expect(sample(await registry.metrics(), 'snowplow_events_enqueued_total{tracker="default"}')).toBe(1);
    expect(await register.metrics()).not.toContain('snowplow_');
  });

  it('two apps in one process share the series without "already registered" errors and sum queue depth', async () => {
    collector.behaviour = () => ({ hang: true });
    const options = {
      collectorUrl: collector.endpoint,
      appId: 'two',
      requestTimeoutMs: 120_000,
      shutdownTimeoutMs: 50,
      maxConcurrentRequests: 1,
      batchSize: 1,
      maxBatchSize: 1,
    };
    const first = await createApp({ imports: [SnowplowModule.forRoot(options)] });
    const second = await createApp({ imports: [SnowplowModule.forRoot(options)] });
    try {
      for (let i = 0; i < 3; i++) first.get(TrackerService).trackEvent('a');
      for (let i = 0; i < 4; i++) second.get(TrackerService).trackEvent('b');
      await waitFor(() => collector.requests.length === 2, { what: 'one request per app' });
      const text = await register.metrics();
      expect(sample(text, 'snowplow_events_enqueued_total{tracker="default"}')).toBe(7);
      expect(sample(text, 'snowplow_queue_depth{tracker="default"}')).toBe(5);
      expect(sample(text, 'snowplow_queue_capacity{tracker="default"}')).toBe(20_000);
    } finally {
      await first.close();
      await second.close();
    }
    expect(sample(await register.metrics(), 'snowplow_queue_depth{tracker="default"}') ?? 0).toBe(0);
  });

  it('rejects metric labels that collide with the ones it sets', async () => {
    await expect(
      createApp({
        imports: [
          SnowplowModule.forRoot({
            collectorUrl: collector.endpoint,
            appId: 'x',
            metrics: { labels: { result: 'x' } },
          }),
        ],
      }),
    ).rejects.toThrow('"metrics.labels"');
  });
});
