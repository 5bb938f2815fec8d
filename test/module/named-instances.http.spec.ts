// Named instances: SnowplowModule.forRoot({ name }) imported beside the default instance, each
// with its own collector, request contexts, metrics (told apart by `tracker`), health key, log
// context and testing capture; injected with @InjectTracker / @InjectEmitter, chosen by
// decorators with { tracker }. Every event is decoded and Iglu-validated at its loopback collector.
import {
  Controller,
  Get,
  Headers,
  Inject,
  INestApplication,
  Injectable,
  LoggerService,
  Module,
  Post,
} from '@nestjs/common';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HealthCheck, HealthCheckService, TerminusModule } from '@nestjs/terminus';
import { Test } from '@nestjs/testing';
import { Registry } from 'prom-client';
import request from 'supertest';
import {
  EmitterService,
  getSnowplowToken,
  InjectEmitter,
  InjectTracker,
  InvalidOptionError,
  SNOWPLOW_MODULE_OPTIONS,
  SnowplowModule,
  SnowplowModuleOptions,
  TrackBillingEvent,
  TrackerService,
  TrackEvent,
} from '../../lib';
import { SnowplowHealthIndicator } from '../../lib/health';
import { SnowplowTestingModule } from '../../lib/testing';
import { LocalCollector, startLocalCollector } from '../../lib/testing/local-collector';
import { SCHEMAS } from '../../lib/tracker/schemas';
import { decodeAccepted } from '../support/decode';
import { createApp } from '../support/nest';

const USAGE = { category: 'ci', eventType: 'ci_minutes', realm: 'SaaS', unitOfMeasure: 'minute', quantity: 3 } as const;

@Injectable()
class UsageService {
  constructor(
    readonly billing: TrackerService,
    @InjectTracker('analytics') readonly analytics: TrackerService,
    @InjectTracker() readonly byDefaultToken: TrackerService,
    @InjectEmitter('analytics') readonly analyticsEmitter: EmitterService,
  ) {}
}

// The class's decorator names the analytics instance; a handler's own decorator wins over it.
@Controller('jobs')
@TrackEvent('job_touched', { tracker: 'analytics' })
class JobsController {
  constructor(private readonly usage: UsageService) {}

  /** No decorator of its own: the class's event, sent by the analytics instance. */
  @Get('list')
  list(): string {
    return 'listed';
  }

  /** Its own @TrackEvent (default instance) replaces the class's: one event, at the default collector. */
  @Post('run')
  @TrackEvent('job_run')
  @TrackBillingEvent(USAGE, { tracker: 'analytics' })
  run(): string {
    return 'ran';
  }

  /** Tracks through both services: each bills under the correlation id its own instance reads. */
  @Post('bill')
  bill(@Headers('x-request-id') _id: string): { billing: string; analytics: string } {
    return {
      billing: this.usage.billing.trackBillingEvent(USAGE).eid,
      analytics: this.usage.analytics.trackBillingEvent(USAGE).eid,
    };
  }
}

@Controller('health')
class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly snowplow: SnowplowHealthIndicator,
  ) {}

  @Get()
  @HealthCheck()
  check() {
    return this.health.check([
      () => this.snowplow.isHealthy('snowplow'),
      () => this.snowplow.isHealthy('snowplow-analytics', { tracker: 'analytics' }),
    ]);
  }
}

/** Records what the app logs, with the logger context. */
class RecordingLogger implements LoggerService {
  readonly lines: Array<{ context: string; message: string }> = [];
  /** When each line was logged (epoch ms), by index. */
  readonly times: number[] = [];
  log(message: unknown, context?: unknown): void {
    this.lines.push({ context: String(context), message: String(message) });
    this.times.push(Date.now());
  }
  warn(message: unknown, context?: unknown): void {
    this.log(message, context);
  }
  error(message: unknown, _trace?: unknown, context?: unknown): void {
    this.log(message, context);
  }
}

function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('named SnowplowModule instances', () => {
  let main: LocalCollector;
  let other: LocalCollector;
  let registry: Registry;
  let app: INestApplication | undefined;
  let logger: RecordingLogger;

  beforeEach(async () => {
    main = await startLocalCollector();
    other = await startLocalCollector();
    registry = new Registry();
    logger = new RecordingLogger();
  });
  afterEach(async () => {
    await app?.close();
    app = undefined;
    await Promise.all([main.close(), other.close()]);
  });

  /** `more`: options of both instances. */
  async function twoInstances(more: Partial<SnowplowModuleOptions> = {}): Promise<INestApplication> {
    @Module({ imports: [TerminusModule], controllers: [HealthController], providers: [SnowplowHealthIndicator] })
    class HealthModule {}
    const moduleRef = await Test.createTestingModule({
      imports: [
        SnowplowModule.forRoot({
          collectorUrl: main.endpoint,
          appId: 'billing-api',
          metrics: { registry },
          isGlobal: true,
          ...more,
        }),
        SnowplowModule.forRootAsync({
          name: 'analytics',
          isGlobal: true,
          useFactory: () => ({
            collectorUrl: other.endpoint,
            appId: 'analytics-api',
            metrics: { registry },
            correlationIdHeaders: ['x-analytics-id'],
            ...more,
          }),
        }),
        HealthModule,
      ],
      controllers: [JobsController],
      providers: [UsageService],
    }).compile();
    const created = moduleRef.createNestApplication({ logger });
    await created.init();
    return created;
  }

  async function drained(a: INestApplication): Promise<void> {
    for (const emitter of [a.get(EmitterService), a.get<EmitterService>(getSnowplowToken('emitter', 'analytics'))]) {
      const result = await emitter.drain(20_000);
      if (!result.drained) throw new Error(`an emitter did not drain: ${result.remaining} left`);
    }
  }

  it('injects each instance by its name; TrackerService by class stays the default instance', async () => {
    app = await twoInstances();
    const usage = app.get(UsageService);
    expect(usage.billing.name).toBe('default');
    expect(usage.byDefaultToken).toBe(usage.billing);
    expect(usage.analytics.name).toBe('analytics');
    expect(usage.analytics).not.toBe(usage.billing);
    expect(app.get(getSnowplowToken('tracker', 'analytics'))).toBe(usage.analytics);
    expect(usage.analyticsEmitter.collectorUrl).toBe(other.endpoint);
    expect(app.get(EmitterService).collectorUrl).toBe(main.endpoint);
    expect(app.get(getSnowplowToken('options', 'analytics'))).toMatchObject({ appId: 'analytics-api' });
    expect(app.get(SNOWPLOW_MODULE_OPTIONS)).toMatchObject({ appId: 'billing-api' });

    const sent = usage.analytics.trackEvent('from_analytics', { n: 1 });
    const kept = usage.billing.trackEvent('from_billing', { n: 2 });
    await drained(app);
    expect(decodeAccepted(other)).toMatchObject([
      { eid: sent.eid, name: 'from_analytics', raw: { aid: 'analytics-api' } },
    ]);
    expect(decodeAccepted(main)).toMatchObject([{ eid: kept.eid, name: 'from_billing', raw: { aid: 'billing-api' } }]);
  });

  it('decorators send through the instance they name, and a handler’s own decorator wins over its class’s', async () => {
    app = await twoInstances();
    const server = app.getHttpServer();
    await request(server).get('/jobs/list').expect(200);
    await request(server).post('/jobs/run').expect(201);
    await drained(app);

    const atOther = decodeAccepted(other);
    const atMain = decodeAccepted(main);
    // /jobs/list: the class's event, at the analytics collector only.
    expect(atOther.filter((e) => e.name === 'job_touched')).toHaveLength(1);
    expect(atMain.filter((e) => e.name === 'job_touched')).toHaveLength(0);
    // /jobs/run: its own job_run (default instance) and no job_touched; its bill at analytics.
    expect(atMain.filter((e) => e.name === 'job_run')).toHaveLength(1);
    expect(atOther.filter((e) => e.name === 'job_run')).toHaveLength(0);
    const bills = atOther.filter((e) => e.eventType === 'se');
    expect(bills).toHaveLength(1);
    expect(bills[0].contexts[0]).toMatchObject({ schema: SCHEMAS.billableUsage, data: { quantity: 3 } });
    expect(atMain.filter((e) => e.eventType === 'se')).toHaveLength(0);
  });

  it('each instance reads the request context with its own options: its correlation id for its bills', async () => {
    app = await twoInstances();
    const { body } = await request(app.getHttpServer())
      .post('/jobs/bill')
      .set('x-request-id', 'req-main')
      .set('x-analytics-id', 'req-analytics')
      .expect(201);
    await drained(app);
    const usageOf = (events: ReturnType<typeof decodeAccepted>, eid: string) =>
      events.find((e) => e.eid === eid)?.contexts.find((c) => c.schema === SCHEMAS.billableUsage)?.data;
    expect(usageOf(decodeAccepted(main), body.billing)).toMatchObject({ correlation_id: 'req-main' });
    expect(usageOf(decodeAccepted(other), body.analytics)).toMatchObject({ correlation_id: 'req-analytics' });
  });

  it('metrics on one registry carry tracker="default" and tracker="<name>"; health has a key per instance', async () => {
    app = await twoInstances();
    const usage = app.get(UsageService);
    usage.billing.trackEvent('one');
    usage.analytics.trackEvent('two');
    usage.analytics.trackEvent('three');
    await drained(app);
    const text = await registry.metrics();
    expect(sample(text, 'snowplow_events_enqueued_total{tracker="default"}')).toBe(1);
    expect(sample(text, 'snowplow_events_enqueued_total{tracker="analytics"}')).toBe(2);
    expect(sample(text, 'snowplow_events_sent_total{tracker="analytics",result="success"}')).toBe(2);
    expect(sample(text, 'snowplow_queue_capacity{tracker="analytics"}')).toBe(10_000);
    // Every series of every metric carries the label.
    const series = text.split('\n').filter((line) => line.startsWith('snowplow_'));
    expect(series.length).toBeGreaterThan(40);
    expect(series.filter((line) => !/[{,]tracker="(default|analytics)"/.test(line))).toEqual([]);

    const { body } = await request(app.getHttpServer()).get('/health').expect(200);
    expect(body.info.snowplow).toMatchObject({ status: 'up', queueDepth: 0 });
    expect(body.info['snowplow-analytics']).toMatchObject({ status: 'up', queueDepth: 0 });
    const health = app.get(SnowplowHealthIndicator);
    expect(() => health.isHealthy('x', { tracker: 'nope' })).toThrow(InvalidOptionError);
    expect(() => health.isHealthy('x', { tracker: 'nope' })).toThrow('no SnowplowModule named "nope"');
  });

  it('a named instance logs under Snowplow:<name>, and each instance drains on shutdown', async () => {
    // Nothing leaves before shutdown: each instance's drain sends its one event, and says so.
    app = await twoInstances({ lingerMs: 60_000, batchSize: 10 });
    app.get(UsageService).analytics.trackEvent('before_close');
    app.get(UsageService).billing.trackEvent('before_close');
    await app.close();
    app = undefined;
    expect(decodeAccepted(other).map((e) => e.name)).toEqual(['before_close']);
    expect(decodeAccepted(main).map((e) => e.name)).toEqual(['before_close']);
    expect(logger.lines).toContainEqual({ context: 'Snowplow:analytics', message: 'drained 1 event on shutdown' });
    expect(logger.lines).toContainEqual({ context: 'Snowplow', message: 'drained 1 event on shutdown' });
  });

  it('a decorator naming an instance the module cannot see fails at startup, naming its token', async () => {
    @Controller('lost')
    class LostController {
      @Get()
      @TrackEvent('lost', { tracker: 'nowhere' })
      get(): string {
        return 'x';
      }
    }
    await expect(
      createApp({
        imports: [SnowplowModule.forRoot({ collectorUrl: main.endpoint, appId: 'a', metrics: false })],
        controllers: [LostController],
      }),
    ).rejects.toThrow(/TrackEventInterceptor\[nowhere\].*nestjs-snowplow:tracker-service\[nowhere\]/s);
  });

  it('with only a named instance, TrackerService by class is not provided (no instance is picked by accident)', async () => {
    @Injectable()
    class NeedsDefault {
      constructor(readonly tracker: TrackerService) {}
    }
    await expect(
      createApp({
        imports: [
          SnowplowModule.forRoot({
            name: 'solo',
            collectorUrl: main.endpoint,
            appId: 'a',
            metrics: false,
            isGlobal: true,
          }),
        ],
        providers: [NeedsDefault],
      }),
    ).rejects.toThrow(/NeedsDefault.*TrackerService/s);
  });

  it('refuses a bad name with InvalidOptionError naming the field, and a name inside a factory’s options', async () => {
    const errorOf = (fn: () => unknown): InvalidOptionError => {
      try {
        fn();
      } catch (err) {
        return err as InvalidOptionError;
      }
      throw new Error('no error');
    };
    for (const name of ['', 'has space', '9lives', 'a'.repeat(64), 42]) {
      const error = errorOf(() =>
        SnowplowModule.forRoot({ name: name as string, collectorUrl: main.endpoint, appId: 'a' }),
      );
      expect(error).toBeInstanceOf(InvalidOptionError);
      expect(error.option).toBe('name');
    }
    expect(SnowplowModule.forRoot({ name: 'a'.repeat(63), collectorUrl: main.endpoint, appId: 'a' })).toBeDefined();
    const decorated = errorOf(() => TrackEvent('evt', { tracker: 'no good' })(class Handlers {}));
    expect(decorated.option).toBe('options.tracker');
    expect(decorated.message).toContain('must be a tracker name');
    expect(errorOf(() => InjectTracker('no good')).option).toBe('name');

    await expect(
      createApp({
        imports: [
          SnowplowModule.forRootAsync({
            useFactory: () => ({ name: 'late', collectorUrl: main.endpoint, appId: 'a' }) as never,
          }),
        ],
      }),
    ).rejects.toThrow(/"name".*forRootAsync\(\{ name, useFactory \}\)/);
    await expect(
      createApp({
        imports: [
          SnowplowModule.forRoot({ collectorUrl: main.endpoint, appId: 'a', metrics: { tracker: 'x' } as never }),
        ],
      }),
    ).rejects.toThrow(/"metrics.tracker".*set `name` of forRoot/);
  });

  it('the testing module captures one named instance while the other still sends', async () => {
    const moduleRef = await SnowplowTestingModule.override(
      Test.createTestingModule({
        imports: [
          SnowplowModule.forRoot({ collectorUrl: main.endpoint, appId: 'billing-api', metrics: false, isGlobal: true }),
          SnowplowModule.forRoot({
            name: 'analytics',
            collectorUrl: other.endpoint,
            appId: 'analytics-api',
            metrics: false,
            isGlobal: true,
          }),
        ],
        controllers: [JobsController],
        providers: [UsageService],
      }),
      'analytics',
    ).compile();
    app = moduleRef.createNestApplication({ logger: false });
    await app.init();
    await request(app.getHttpServer()).get('/jobs/list').expect(200);
    app.get(UsageService).billing.trackEvent('real');
    const capture = SnowplowTestingModule.capture(app, 'analytics');
    expect(capture.events({ name: 'job_touched' })).toHaveLength(1);
    expect(() => SnowplowTestingModule.capture(app!)).toThrow('sends to a real collector');
    await main.waitForEvents(1);
    expect(decodeAccepted(main).map((e) => e.name)).toEqual(['real']);
    expect(other.events()).toHaveLength(0);
  });

  it('SnowplowTestingModule.forRoot({ name }) stands in for a named instance', async () => {
    @Injectable()
    class Reporter {
      constructor(@InjectTracker('analytics') readonly tracker: TrackerService) {}
    }
    const testApp = await createApp({
      imports: [SnowplowTestingModule.forRoot({ name: 'analytics', isGlobal: true })],
      providers: [Reporter],
    });
    try {
      testApp.get(Reporter).tracker.trackEvent('captured', { ok: true });
      expect(SnowplowTestingModule.capture(testApp, 'analytics').events({ name: 'captured' })).toMatchObject([
        { props: { ok: true } },
      ]);
    } finally {
      await testApp.close();
    }
  });

  it('at shutdown the instances drain side by side: a dead collector of one never holds back the other', async () => {
    // Both ways round, so that the order Nest calls the two lifecycles in cannot hide a serial drain.
    for (const dead of ['default', 'analytics'] as const) {
      const gone = await startLocalCollector();
      await gone.close();
      const live = await startLocalCollector();
      const logs = new RecordingLogger();
      const moduleRef = await Test.createTestingModule({
        imports: [
          SnowplowModule.forRoot({
            collectorUrl: dead === 'default' ? gone.endpoint : live.endpoint,
            appId: 'default-app',
            metrics: false,
            isGlobal: true,
            lingerMs: 60_000,
            shutdownTimeoutMs: 1_500,
          }),
          SnowplowModule.forRoot({
            name: 'analytics',
            collectorUrl: dead === 'analytics' ? gone.endpoint : live.endpoint,
            appId: 'analytics-app',
            metrics: false,
            isGlobal: true,
            lingerMs: 60_000,
            shutdownTimeoutMs: 1_500,
          }),
        ],
        providers: [UsageService],
      }).compile();
      const closing = moduleRef.createNestApplication({ logger: logs });
      await closing.init();
      const usage = closing.get(UsageService);
      usage.billing.trackBillingEvent(USAGE);
      usage.analytics.trackBillingEvent(USAGE);
      await closing.close();
      try {
        const deadline = logs.lines.findIndex((line) =>
          line.message.startsWith('shutdown deadline of 1500 ms reached'),
        );
        expect(deadline).toBeGreaterThanOrEqual(0);
        expect(logs.lines[deadline].context).toBe(dead === 'default' ? 'Snowplow' : 'Snowplow:analytics');
        const arrived = live.accepted();
        expect(arrived).toHaveLength(1);
        expect(decodeAccepted(live)[0].raw.aid).toBe(dead === 'default' ? 'analytics-app' : 'default-app');
        // The live instance's bill left before the dead one gave up, not after it.
        expect(arrived[0].receivedAt).toBeLessThan(logs.times[deadline]);
      } finally {
        await live.close();
      }
    }
  });

  it('refuses a second import under one name, and two instances over one outbox, at startup', async () => {
    const twice = createApp({
      imports: [
        SnowplowModule.forRoot({ name: 'analytics', collectorUrl: main.endpoint, appId: 'a', metrics: false }),
        SnowplowModule.forRoot({ name: 'analytics', collectorUrl: other.endpoint, appId: 'b', metrics: false }),
      ],
    });
    await expect(twice).rejects.toThrow(InvalidOptionError);
    await expect(twice).rejects.toThrow('imported twice as the instance "analytics"');

    const dir = mkdtempSync(join(tmpdir(), 'named-outbox-'));
    try {
      // shared: true, else the file's own lock refuses the second instance first.
      const storage = { type: 'sqlite' as const, path: join(dir, 'outbox.db'), shared: true };
      const shared = createApp({
        imports: [
          SnowplowModule.forRoot({ collectorUrl: main.endpoint, appId: 'a', metrics: false, storage }),
          SnowplowModule.forRoot({
            name: 'analytics',
            collectorUrl: other.endpoint,
            appId: 'b',
            metrics: false,
            storage,
          }),
        ],
      });
      await expect(shared).rejects.toThrow(
        `the instances "default" and "analytics" would share one outbox (sqlite:${join(dir, 'outbox.db')})`,
      );
      // Their own files: both start, and each delivers its own bill to its own collector.
      const own = await createApp({
        imports: [
          SnowplowModule.forRoot({ collectorUrl: main.endpoint, appId: 'a', metrics: false, storage, isGlobal: true }),
          SnowplowModule.forRoot({
            name: 'analytics',
            collectorUrl: other.endpoint,
            appId: 'b',
            metrics: false,
            isGlobal: true,
            storage: { type: 'sqlite', path: join(dir, 'analytics.db') },
          }),
        ],
        providers: [UsageService],
      });
      own.get(UsageService).billing.trackBillingEvent(USAGE);
      own.get(UsageService).analytics.trackBillingEvent(USAGE);
      await own.close();
      expect(decodeAccepted(main).map((e) => e.raw.aid)).toEqual(['a']);
      expect(decodeAccepted(other).map((e) => e.raw.aid)).toEqual(['b']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('two instances on one PostgreSQL server need tables of their own (the same table is refused)', async () => {
    const url = 'postgres://app:secret@127.0.0.1:5432/test';
    const app = createApp({
      imports: [
        SnowplowModule.forRoot({
          collectorUrl: main.endpoint,
          appId: 'a',
          metrics: false,
          storage: { type: 'postgres', connectionString: url },
        }),
        SnowplowModule.forRoot({
          name: 'analytics',
          collectorUrl: other.endpoint,
          appId: 'b',
          metrics: false,
          storage: { type: 'postgres', connectionString: 'postgres://other@127.0.0.1/test', schema: 'public' },
        }),
      ],
    });
    const error = await app.then(
      () => undefined,
      (err: unknown) => err as Error,
    );
    expect(error).toBeInstanceOf(InvalidOptionError);
    expect(error?.message).toContain('(postgres:127.0.0.1:5432/test/public.snowplow_outbox)');
    expect(error?.message).not.toContain('secret');
  });

  it('the testing stand-in of a named instance exports what the real one does', async () => {
    @Injectable()
    class NeedsOptions {
      constructor(@Inject(getSnowplowToken('options', 'analytics')) readonly options: { appId: string }) {}
    }
    const testApp = await createApp({
      imports: [SnowplowTestingModule.forRoot({ name: 'analytics', appId: 'stand-in' })],
      providers: [NeedsOptions],
    }).catch((err: unknown) => err as Error);
    // Not global: the stand-in's exports reach the importing module, as the real module's do.
    expect(testApp).not.toBeInstanceOf(Error);
    const started = testApp as INestApplication;
    expect(started.get(NeedsOptions).options.appId).toBe('stand-in');
    await started.close();
  });
});
