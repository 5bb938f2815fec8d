import { Controller, Get, INestApplication, Module } from '@nestjs/common';
import { HealthCheck, HealthCheckService, TerminusModule } from '@nestjs/terminus';
import request from 'supertest';
import { InvalidOptionError, SnowplowModule, SnowplowModuleOptions, TrackerService } from '../../lib';
import { SnowplowHealthIndicator, SnowplowHealthOptions } from '../../lib/health';
import { createApp } from '../support/nest';
import { LocalCollector, startLocalCollector } from '../../lib/testing/local-collector';
import { waitFor } from '../support/wait-for';

function healthApp(
  collector: LocalCollector,
  options: Partial<SnowplowModuleOptions>,
  health: SnowplowHealthOptions = {},
) {
  @Controller('health')
  class HealthController {
    constructor(
      private readonly health: HealthCheckService,
      private readonly snowplow: SnowplowHealthIndicator,
    ) {}

    @Get()
    @HealthCheck()
    check() {
      return this.health.check([() => this.snowplow.isHealthy('snowplow', health)]);
    }
  }
  @Module({ imports: [TerminusModule], controllers: [HealthController], providers: [SnowplowHealthIndicator] })
  class HealthModule {}
  return createApp({
    imports: [
      SnowplowModule.forRoot({
        collectorUrl: collector.endpoint,
        appId: 'health',
        metrics: false,
        isGlobal: true,
        shutdownTimeoutMs: 100,
        ...options,
      }),
      HealthModule,
    ],
  });
}

describe('SnowplowHealthIndicator', () => {
  let collector: LocalCollector;
  let app: INestApplication | undefined;
  beforeEach(async () => {
    collector = await startLocalCollector();
  });
  afterEach(async () => {
    await app?.close();
    app = undefined;
    await collector.close();
  });

  it('is up with queue details while the collector accepts events', async () => {
    app = await healthApp(collector, {});
    app.get(TrackerService).trackEvent('ok');
    await collector.waitForEvents(1);
    const { body } = await request(app.getHttpServer()).get('/health').expect(200);
    expect(body.status).toBe('ok');
    expect(body.info.snowplow).toMatchObject({
      status: 'up',
      queueDepth: 0,
      capacity: 10_000,
      consecutiveFailures: 0,
      lastError: null,
      lastSuccessAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
    });
  });

  it('is down when the last N batches all failed, with the last error', async () => {
    collector.behaviour = () => ({ status: 503 });
    app = await healthApp(collector, { backoff: { baseMs: 1, capMs: 5 } }, { maxConsecutiveFailures: 3 });
    app.get(TrackerService).trackEvent('failing');
    await waitFor(() => collector.requests.length >= 3, { what: 'three failed batches' });
    const { body } = await request(app.getHttpServer()).get('/health').expect(503);
    expect(body.error.snowplow).toMatchObject({
      status: 'down',
      consecutiveFailures: expect.any(Number),
      lastError: 'HTTP 503',
      lastSuccessAt: null,
      reason: expect.stringMatching(/batch requests failed/),
    });
  });

  it('is down when the queue is above the fill ratio', async () => {
    collector.behaviour = () => ({ hang: true });
    app = await healthApp(
      collector,
      { capacity: 10, batchSize: 1, maxBatchSize: 1, maxConcurrentRequests: 1, requestTimeoutMs: 60_000 },
      { maxFillRatio: 0.5 },
    );
    for (let i = 0; i < 8; i++) app.get(TrackerService).trackEvent('queued');
    await waitFor(() => collector.requests.length === 1, { what: 'the hanging request' });
    const { body } = await request(app.getHttpServer()).get('/health').expect(503);
    expect(body.error.snowplow).toMatchObject({
      status: 'down',
      queueDepth: 7,
      capacity: 10,
      fillRatio: 0.7,
      reason: 'queue is 70% full (limit 50%)',
    });
  });

  it('rejects invalid thresholds with an error naming them', async () => {
    app = await healthApp(collector, {});
    const indicator = app.get(SnowplowHealthIndicator);
    expect(() => indicator.isHealthy('snowplow', { maxFillRatio: 2 })).toThrow(InvalidOptionError);
    expect(() => indicator.isHealthy('snowplow', { maxConsecutiveFailures: 0 })).toThrow('"maxConsecutiveFailures"');
  });
});
