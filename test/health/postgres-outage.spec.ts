// A PostgreSQL outage in a Nest app, made with a loopback TCP proxy between the store and the
// shared server (never stopping it): the health indicator goes DOWN naming the unreachable store,
// snowplow_store_up drops to 0 and stats() says so; when the database answers again, all three
// recover and every committed event is delivered.
import { Controller, Get, INestApplication, Module } from '@nestjs/common';
import { HealthCheck, HealthCheckService, TerminusModule } from '@nestjs/terminus';
import { register } from 'prom-client';
import request from 'supertest';
import { EmitterService, SnowplowModule, TrackerService } from '../../lib';
import { migratePostgresOutbox } from '../../lib/core';
import { SnowplowHealthIndicator } from '../../lib/health';
import { LocalCollector, startLocalCollector } from '../../lib/testing/local-collector';
import { createApp } from '../support/nest';
import { usePostgres } from '../support/postgres';
import { startTcpProxy, TcpProxy } from '../support/tcp-proxy';
import { waitFor } from '../support/wait-for';

const pg = usePostgres('outage_health');
const TABLE = 'outbox';

@Controller('health')
class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly snowplow: SnowplowHealthIndicator,
  ) {}

  @Get()
  @HealthCheck()
  check() {
    return this.health.check([() => this.snowplow.isHealthy('snowplow')]);
  }
}

function storeUp(text: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith('snowplow_store_up{tracker="default"} '));
  return line === undefined ? undefined : Number(line.slice('snowplow_store_up{tracker="default"} '.length));
}

describe('a PostgreSQL outage: health, metrics and stats', () => {
  let collector: LocalCollector;
  let proxy: TcpProxy;
  let app: INestApplication;

  beforeAll(async () => {
    register.clear();
    collector = await startLocalCollector();
    proxy = await startTcpProxy(5432);
    await migratePostgresOutbox(pg.pool, { schema: pg.schema, table: TABLE });
    @Module({ imports: [TerminusModule], controllers: [HealthController], providers: [SnowplowHealthIndicator] })
    class HealthModule {}
    app = await createApp({
      imports: [
        SnowplowModule.forRoot({
          collectorUrl: collector.endpoint,
          appId: 'outage',
          isGlobal: true,
          lingerMs: 0,
          requestTimeoutMs: 1_000,
          backoff: { baseMs: 20, capMs: 200 },
          storage: {
            type: 'postgres',
            connectionString: pg.url.replace(':5432/', `:${proxy.port}/`),
            schema: pg.schema,
            table: TABLE,
            leaseMs: 3_000,
            pollIntervalMs: 200,
            queryTimeoutMs: 1_000,
            commitTimeoutMs: 60_000,
          },
        }),
        HealthModule,
      ],
    });
  });
  afterAll(async () => {
    await app?.close();
    await proxy?.close();
    await collector?.close();
    register.clear();
  });

  it('goes DOWN while the store cannot be reached, and recovers with every committed event delivered', async () => {
    const server = app.getHttpServer();
    const tracker = app.get(TrackerService);
    const emitter = app.get(EmitterService);
    await request(server).get('/health').expect(200);
    expect(storeUp(await register.metrics())).toBe(1);
    const before = tracker.trackBillingEvent({
      category: 'ci',
      eventType: 'minutes',
      realm: 'SaaS',
      unitOfMeasure: 'minute',
      quantity: 1,
    });
    await before.committed;

    proxy.cut();
    const during = tracker.trackEvent('during_outage');
    await waitFor(() => !emitter.stats().storeReachable, { what: 'the store to be seen unreachable' });
    const down = await request(server).get('/health').expect(503);
    expect(down.body.error.snowplow).toMatchObject({
      status: 'down',
      reason: expect.stringMatching(/^the event store cannot be reached: /),
    });
    expect(storeUp(await register.metrics())).toBe(0);

    proxy.resume();
    await expect(during.committed).resolves.toEqual({ durable: true });
    await waitFor(
      () =>
        collector.events().some((e) => e.eid === during.eid) && collector.events().some((e) => e.eid === before.eid),
      { what: 'both events at the collector', timeoutMs: 20_000 },
    );
    await waitFor(() => emitter.stats().storeReachable, { what: 'the store to be seen reachable' });
    await request(server).get('/health').expect(200);
    expect(storeUp(await register.metrics())).toBe(1);
  });
});
