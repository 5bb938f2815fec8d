import { Injectable, Module } from '@nestjs/common';
import { HttpModule, HttpService } from '@nestjs/axios';
import { Test } from '@nestjs/testing';
import axios from 'axios';
import { register } from 'prom-client';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  EmitterService,
  EmitterStoppedError,
  InvalidCollectorUrlError,
  InvalidOptionError,
  SNOWPLOW_MODULE_OPTIONS,
  SnowplowModule,
  SnowplowModuleOptions,
  TrackerService,
} from '../../lib';
import { decodeAccepted, FIXTURE_IGLU_DIR } from '../support/decode';
import { createApp } from '../support/nest';
import { LocalCollector, startLocalCollector } from '../../lib/testing/local-collector';

@Injectable()
class AppConfig {
  constructor(readonly endpoint: string) {}
}

describe('SnowplowModule', () => {
  let collector: LocalCollector;
  beforeEach(async () => {
    collector = await startLocalCollector();
  });
  afterEach(() => collector.close());

  it('forRoot provides TrackerService, EmitterService and the options token, and sends events', async () => {
    const app = await createApp({
      imports: [SnowplowModule.forRoot({ collectorUrl: collector.endpoint, appId: 'svc', metrics: false })],
    });
    const tracker = app.get(TrackerService);
    expect(app.get(EmitterService)).toBeInstanceOf(EmitterService);
    expect(app.get(SNOWPLOW_MODULE_OPTIONS)).toMatchObject({ appId: 'svc' });
    const { eid } = tracker.trackEvent('module_event', { via: 'forRoot' });
    await collector.waitForEvents(1);
    expect(decodeAccepted(collector)).toMatchObject([
      { eid, name: 'module_event', props: { via: 'forRoot' }, raw: { aid: 'svc' } },
    ]);
    await app.close();
  });

  it('forRootAsync with a factory injecting a config provider from an imported module', async () => {
    @Module({
      providers: [{ provide: AppConfig, useFactory: () => new AppConfig(collector.endpoint) }],
      exports: [AppConfig],
    })
    class ConfigModule {}
    const app = await createApp({
      imports: [
        SnowplowModule.forRootAsync({
          imports: [ConfigModule],
          inject: [AppConfig],
          useFactory: async (config: AppConfig): Promise<SnowplowModuleOptions> => ({
            collectorUrl: config.endpoint,
            appId: 'async-app',
            namespace: 'async-ns',
            metrics: false,
          }),
        }),
      ],
    });
    app.get(TrackerService).trackEvent('async_event');
    await collector.waitForEvents(1);
    expect(decodeAccepted(collector)[0].raw).toMatchObject({ aid: 'async-app', tna: 'async-ns' });
    await app.close();
  });

  it('forRootAsync with useClass', async () => {
    const endpoint = collector.endpoint;
    @Injectable()
    class OptionsFactory {
      create(): SnowplowModuleOptions {
        return { collectorUrl: endpoint, appId: 'use-class', metrics: false };
      }
    }
    const app = await createApp({ imports: [SnowplowModule.forRootAsync({ useClass: OptionsFactory })] });
    app.get(TrackerService).trackEvent('from_class');
    await collector.waitForEvents(1);
    expect(decodeAccepted(collector)[0].raw.aid).toBe('use-class');
    await app.close();
  });

  it('isGlobal makes TrackerService injectable in modules that do not import SnowplowModule', async () => {
    @Injectable()
    class FeatureService {
      constructor(readonly tracker: TrackerService) {}
    }
    @Module({ providers: [FeatureService], exports: [FeatureService] })
    class FeatureModule {}
    const app = await createApp({
      imports: [
        SnowplowModule.forRoot({ collectorUrl: collector.endpoint, appId: 'g', metrics: false, isGlobal: true }),
        FeatureModule,
      ],
    });
    app.get(FeatureService).tracker.trackEvent('global');
    await collector.waitForEvents(1);
    await app.close();
  });

  it('without isGlobal, a feature module that does not import it cannot inject TrackerService', async () => {
    @Injectable()
    class FeatureService {
      constructor(readonly tracker: TrackerService) {}
    }
    @Module({ providers: [FeatureService] })
    class FeatureModule {}
    await expect(
      Test.createTestingModule({
        imports: [
          SnowplowModule.forRoot({ collectorUrl: collector.endpoint, appId: 'g', metrics: false }),
          FeatureModule,
        ],
      }).compile(),
    ).rejects.toThrow(/TrackerService/);
  });

  it.each([
    ['a missing collectorUrl', { appId: 'a' }, InvalidCollectorUrlError, 'collectorUrl'],
    ['an ftp collectorUrl', { appId: 'a', collectorUrl: 'ftp://x/tp2' }, InvalidCollectorUrlError, 'collectorUrl'],
    ['a missing appId', { collectorUrl: 'http://127.0.0.1:9/tp2' }, InvalidOptionError, 'appId'],
    [
      'a negative shutdownTimeoutMs',
      { appId: 'a', collectorUrl: 'http://127.0.0.1:9/tp2', shutdownTimeoutMs: -1 },
      InvalidOptionError,
      'shutdownTimeoutMs',
    ],
    [
      'a string batchSize',
      { appId: 'a', collectorUrl: 'http://127.0.0.1:9/tp2', batchSize: '5' },
      InvalidOptionError,
      'batchSize',
    ],
    [
      'a metrics string',
      { appId: 'a', collectorUrl: 'http://127.0.0.1:9/tp2', metrics: 'yes' },
      InvalidOptionError,
      'metrics',
    ],
    [
      'a misspelt option',
      { appId: 'a', collectorUrl: 'http://127.0.0.1:9/tp2', batchsize: 5 },
      InvalidOptionError,
      'batchsize',
    ],
  ])('fails at startup on %s, naming the option', async (_case, options, errorClass, option) => {
    const compiling = Test.createTestingModule({
      imports: [SnowplowModule.forRoot(options as SnowplowModuleOptions)],
    }).compile();
    await expect(compiling).rejects.toThrow(errorClass);
    await expect(
      Test.createTestingModule({ imports: [SnowplowModule.forRoot(options as SnowplowModuleOptions)] }).compile(),
    ).rejects.toThrow(`"${option}"`);
  });

  it('storage: { type: "sqlite" } keeps queued events in a file across app restarts', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'snowplow-module-'));
    const storage = { type: 'sqlite' as const, path: join(dir, 'outbox.db') };
    try {
      collector.behaviour = () => ({ hang: true });
      const first = await createApp({
        imports: [
          SnowplowModule.forRoot({
            collectorUrl: collector.endpoint,
            appId: 'durable',
            storage,
            shutdownTimeoutMs: 100,
            metrics: false,
          }),
        ],
      });
      const eids = Array.from({ length: 20 }, (_, i) => first.get(TrackerService).trackEvent('kept', { i }).eid);
      await first.close();
      collector.behaviour = () => ({ status: 200 });
      const second = await createApp({
        imports: [
          SnowplowModule.forRoot({ collectorUrl: collector.endpoint, appId: 'durable', storage, metrics: false }),
        ],
      });
      await collector.waitForEvents(20);
      await second.close();
      expect(decodeAccepted(collector).map((e) => e.eid)).toEqual(eids);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('accepts every documented option at once, each in effect (one by one in module-options.spec.ts), and refuses the ones it supplies itself', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'snowplow-all-options-'));
    try {
      const all: Required<SnowplowModuleOptions> = {
        collectorUrl: collector.endpoint,
        appId: 'all-options',
        namespace: 'ns',
        userAgent: 'ua',
        batchSize: 50,
        maxBatchSize: 200,
        capacity: 500,
        billing: { capacity: 50 },
        deadLetter: { path: join(dir, 'dead-letters.jsonl') },
        storage: { type: 'memory' },
        requestTimeoutMs: 2_000,
        callback: () => undefined,
        tokenSource: { enhanceHeader: async () => undefined },
        audience: collector.url,
        shutdownTimeoutMs: 1_000,
        metrics: false,
        maxBatchBytes: 500_000,
        maxEventBytes: 100_000,
        maxConcurrentRequests: 2,
        lingerMs: 0,
        maxLingerMs: 0,
        backoff: { baseMs: 10, factor: 2, capMs: 1_000 },
        retryStatusCodes: [429],
        dontRetryStatusCodes: [400],
        maxRetryAfterMs: 10_000,
        maxAttempts: 10,
        maxEventAgeMs: 60_000,
        exitDrainTimeoutMs: 2_000,
        http: { headers: { 'X-Ignored': 'httpService wins' } },
        httpService: new HttpService(axios.create({ headers: { 'X-From-Http-Service': 'yes' } })),
        correlationIdHeaders: ['X-Request-Id'],
        correlationIdMaxLength: 64,
        enrich: () => ({ region: 'eu' }),
        subject: () => ({ lang: 'en' }),
        validate: { schemas: FIXTURE_IGLU_DIR },
        entities: [{ schema: 'iglu:dev.nestjs-snowplow/request/jsonschema/1-0-0', data: { type: 'static' } }],
        requestEntity: true,
      };
      const app = await createApp({ imports: [SnowplowModule.forRoot(all)] });
      const tracker = app.get(TrackerService);
      for (let i = 0; i < 450; i++) tracker.trackEvent('configured', { i });
      await collector.waitForEvents(450);
      expect(collector.requests[0].headers['x-from-http-service']).toBe('yes');
      expect(collector.requests[0].headers['x-ignored']).toBeUndefined();
      expect(collector.events()[0]).toMatchObject({ aid: 'all-options', tna: 'ns', ua: 'ua' });
      // A backlog leaves in batches grown up to maxBatchSize (batchSize alone: module-options.spec.ts).
      expect(Math.max(...collector.requests.map((r) => JSON.parse(r.body).data.length))).toBe(200);
      expect(app.get(EmitterService).stats()).toMatchObject({ capacity: 500, billing: { capacity: 50 } });
      expect(() => tracker.trackEvent('big', { pad: 'x'.repeat(100_000) })).toThrow(/maxEventBytes \(100000\)/);
      // Strict mode: an event its local schema refuses is thrown back, not sent.
      expect(() =>
        tracker.trackSelfDescribingEvent({ schema: 'iglu:com.acme/checkout/jsonschema/1-0-0', data: { orderId: 'o' } }),
      ).toThrow('Invalid event field "event.data.total": does not match iglu:com.acme/checkout/jsonschema/1-0-0');
      await app.close();
      await expect(
        Test.createTestingModule({
          imports: [SnowplowModule.forRoot({ ...all, httpClient: {} } as SnowplowModuleOptions)],
        }).compile(),
      ).rejects.toThrow('"httpClient": is not a SnowplowModule option');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('http options reach the collector request, through an HttpService of @nestjs/axios', async () => {
    const app = await createApp({
      imports: [
        SnowplowModule.forRoot({
          collectorUrl: collector.endpoint,
          appId: 'http-options',
          metrics: false,
          http: { headers: { 'X-Tenant': 'acme' } },
        }),
      ],
    });
    app.get(TrackerService).trackEvent('with_headers');
    await collector.waitForEvents(1);
    expect(collector.requests[0].headers['x-tenant']).toBe('acme');
    expect(collector.requests[0].headers['content-type']).toBe('application/json; charset=utf-8');
    await app.close();
  });

  it("the app's own HttpService, injected in forRootAsync: its axios interceptors see every collector request", async () => {
    const seen: string[] = [];
    @Module({ imports: [HttpModule.register({})], exports: [HttpModule] })
    class AppHttpModule {}
    const app = await createApp({
      imports: [
        AppHttpModule,
        SnowplowModule.forRootAsync({
          imports: [AppHttpModule],
          inject: [HttpService],
          useFactory: (httpService: HttpService) => {
            httpService.axiosRef.interceptors.request.use((config) => {
              seen.push(`${config.method} ${config.url}`);
              config.headers.set('X-Traced', 'by-app-interceptor');
              return config;
            });
            return { collectorUrl: collector.endpoint, appId: 'own-http', metrics: false, httpService };
          },
        }),
      ],
    });
    app.get(TrackerService).trackEvent('intercepted');
    await collector.waitForEvents(1);
    expect(seen).toEqual([`post ${collector.endpoint}`]);
    expect(collector.requests[0].headers['x-traced']).toBe('by-app-interceptor');
    await app.close();
  });

  it('two apps in one process each get their own emitter, share metrics, and both stop on close', async () => {
    register.clear();
    const options = { collectorUrl: collector.endpoint, appId: 'twice' };
    const first = await createApp({ imports: [SnowplowModule.forRoot(options)] });
    const second = await createApp({ imports: [SnowplowModule.forRoot(options)] });
    const [e1, e2] = [first.get(EmitterService), second.get(EmitterService)];
    expect(e1).not.toBe(e2);
    first.get(TrackerService).trackEvent('one');
    second.get(TrackerService).trackEvent('two');
    second.get(TrackerService).trackEvent('three');
    await collector.waitForEvents(3);
    await Promise.all([e1.drain(10_000), e2.drain(10_000)]);
    // One set of series in the global registry, fed by both emitters.
    expect(first.get(EmitterService).collector()).toBe(register);
    expect(second.get(EmitterService).collector()).toBe(register);
    const text = await register.metrics();
    expect(text).toMatch(/^snowplow_events_enqueued_total{tracker="default"} 3$/m);
    expect(text).toMatch(/^snowplow_events_sent_total\{tracker="default",result="success"\} 3$/m);
    expect(text.match(/^# TYPE snowplow_events_enqueued_total counter$/gm)).toHaveLength(1);
    await first.close();
    await second.close();
    expect(e1.isStopped && e2.isStopped).toBe(true);
    expect(() => first.get(TrackerService).trackEvent('late')).toThrow(EmitterStoppedError);
  });
});
