// The module's `entities` and `requestEntity` options in a real Nest app (Express) with a loopback
// collector that validates every payload against test/fixtures/iglu (the request entity's schema
// included): global entities on the events a request tracks, the built-in request entity with the
// correlation id of X-Request-Id and the active OpenTelemetry span, and a throwing generator counted
// in snowplow_track_errors_total{source="entities"} while its event is still sent.
import { AsyncLocalStorage } from 'node:async_hooks';
import { Controller, Headers, INestApplication, LoggerService, Module, Post } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { context, Context, ContextManager, ROOT_CONTEXT, trace, TraceFlags } from '@opentelemetry/api';
import { Registry } from 'prom-client';
import { EmitterService, InvalidOptionError, SnowplowModule, TrackEvent, TrackerService } from '../../lib';
import { RequestContextStore } from '../../lib/module/request-context';
import { requestEntity } from '../../lib/module/request-entity';
import { LocalCollector, startLocalCollector } from '../../lib/testing/local-collector';
import { GoodEvent } from '../../lib/testing/types';
import { FIXTURE_IGLU_DIR } from '../support/decode';
import { drainedEvents, snowplowModule, trackErrors } from '../decorators/support/snowplow-app';

const CHECKOUT = 'iglu:com.acme/checkout/jsonschema/1-0-0';
const TENANT = 'iglu:com.acme/tenant/jsonschema/1-0-0';
const REQUEST = 'iglu:dev.nestjs-snowplow/request/jsonschema/1-0-0';
const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const SPAN_ID = '00f067aa0ba902b7';

/** A context manager over AsyncLocalStorage, as an OpenTelemetry SDK registers one. */
class AsyncContextManager implements ContextManager {
  private readonly storage = new AsyncLocalStorage<Context>();
  active(): Context {
    return this.storage.getStore() ?? ROOT_CONTEXT;
  }
  with<A extends unknown[], F extends (...args: A) => ReturnType<F>>(
    ctx: Context,
    fn: F,
    thisArg?: ThisParameterType<F>,
    ...args: A
  ): ReturnType<F> {
    return this.storage.run(ctx, () => fn.call(thisArg, ...args));
  }
  bind<T>(_ctx: Context, target: T): T {
    return target;
  }
  enable(): this {
    return this;
  }
  disable(): this {
    this.storage.disable();
    return this;
  }
}

@Controller()
class ShopController {
  constructor(private readonly tracker: TrackerService) {}

  @Post('buy')
  @TrackEvent('bought')
  buy(@Headers('x-trace') traced?: string) {
    const track = () => {
      this.tracker.trackSelfDescribingEvent({ schema: CHECKOUT, data: { orderId: 'o-1', total: 5 } });
      this.tracker.trackEvent('explode');
    };
    if (traced === undefined) {
      track();
    } else {
      const span = trace.wrapSpanContext({ traceId: TRACE_ID, spanId: SPAN_ID, traceFlags: TraceFlags.SAMPLED });
      context.with(trace.setSpan(context.active(), span), track);
    }
    return { ok: true };
  }
}

describe('the entities and requestEntity module options (Express)', () => {
  let collector: LocalCollector;
  let app: INestApplication;
  let registry: Registry;
  let base: string;
  const warnings: string[] = [];

  beforeAll(async () => {
    expect(context.setGlobalContextManager(new AsyncContextManager())).toBe(true);
    collector = await startLocalCollector({ schemaDirs: [FIXTURE_IGLU_DIR] });
    registry = new Registry();
    const options = {
      requestEntity: true,
      entities: [
        { entity: { schema: TENANT, data: { tenant: 'acme' } }, accept: ['iglu:com.acme/*/jsonschema/1-*-*'] },
        (event: { data: Readonly<Record<string, unknown>> }) => {
          if (event.data.name === 'explode') throw new Error('generator down');
          return undefined;
        },
      ],
    };
    @Module({ imports: [snowplowModule(collector, registry, options)], controllers: [ShopController] })
    class AppModule {}
    const moduleRef = await Test.createTestingModule({ imports: [AppModule] }).compile();
    const logger: LoggerService = {
      log: () => undefined,
      error: () => undefined,
      warn: (message: unknown) => void warnings.push(String(message)),
    };
    app = moduleRef.createNestApplication({ logger });
    await app.listen(0, '127.0.0.1');
    base = (await app.getUrl()).replace('[::1]', '127.0.0.1');
  });
  afterAll(async () => {
    await app?.close();
    await collector?.close();
    context.disable();
  });
  beforeEach(() => collector.reset());

  const byName = async (): Promise<Map<string, GoodEvent>> => {
    const decoded = await drainedEvents(app.get(EmitterService), collector);
    return new Map(decoded.map((event) => [event.name as string, event]));
  };

  it("every event of a request carries the request entity with X-Request-Id's correlation id; the rule set picks the checkout", async () => {
    const response = await fetch(`${base}/buy`, { method: 'POST', headers: { 'X-Request-Id': 'req-42' } });
    expect(response.status).toBe(201);
    const events = await byName();
    expect([...events.keys()].sort()).toEqual(['bought', 'checkout', 'explode']);
    const request = { schema: REQUEST, data: { type: 'http', correlationId: 'req-42' } };
    expect(events.get('checkout')?.contexts).toEqual([{ schema: TENANT, data: { tenant: 'acme' } }, request]);
    expect(events.get('bought')?.contexts).toEqual([request]);
    expect(events.get('explode')?.contexts).toEqual([request]);
  });

  it('with an active OpenTelemetry span, the request entity carries its trace and span ids', async () => {
    const response = await fetch(`${base}/buy`, {
      method: 'POST',
      headers: { 'X-Request-Id': 'req-7', 'X-Trace': '1' },
    });
    expect(response.status).toBe(201);
    const events = await byName();
    const traced = {
      schema: REQUEST,
      data: { type: 'http', correlationId: 'req-7', traceId: TRACE_ID, spanId: SPAN_ID },
    };
    expect(events.get('checkout')?.contexts).toContainEqual(traced);
    expect(events.get('explode')?.contexts).toEqual([traced]);
    // The interceptor's event is tracked after the handler, outside its span.
    expect(events.get('bought')?.contexts).toEqual([
      { schema: REQUEST, data: { type: 'http', correlationId: 'req-7' } },
    ]);
  });

  it('a throwing generator is counted under source="entities" and logged at most once per 10 s; its event is still sent', async () => {
    const before = await trackErrors(registry, 'entities', 'custom');
    const logged = warnings.length;
    for (let i = 0; i < 3; i++) expect((await fetch(`${base}/buy`, { method: 'POST' })).status).toBe(201);
    const events = await drainedEvents(app.get(EmitterService), collector);
    const exploded = events.filter((event) => event.name === 'explode');
    expect(exploded.map((event) => event.contexts)).toEqual(
      Array(3).fill([{ schema: REQUEST, data: { type: 'http' } }]),
    );
    expect(await trackErrors(registry, 'entities', 'custom')).toBe(before + 3);
    // The earlier tests' failures were logged already: at most one more line for these three.
    expect(warnings.length - logged).toBeLessThanOrEqual(1);
    expect(warnings).toContainEqual(expect.stringContaining('global entity entities[1] threw Error: generator down'));
  });

  it('without @opentelemetry/api installed, the request entity has no trace ids (and nothing fails)', () => {
    const notInstalled = (id: string): never => {
      throw Object.assign(new Error(`Cannot find module '${id}'`), { code: 'MODULE_NOT_FOUND' });
    };
    const requests = new RequestContextStore();
    const generate = requestEntity(requests, notInstalled);
    const request = { type: 'http', correlationId: 'c-1', request: undefined, executionContext: undefined as never };
    const span = trace.wrapSpanContext({ traceId: TRACE_ID, spanId: SPAN_ID, traceFlags: TraceFlags.SAMPLED });
    const made = context.with(trace.setSpan(context.active(), span), () =>
      requests.run(request, () => generate(undefined as never)),
    );
    expect(made).toEqual({ schema: REQUEST, data: { type: 'http', correlationId: 'c-1' } });
    // The same span with the package installed: the ids are there.
    const traced = context.with(trace.setSpan(context.active(), span), () =>
      requests.run(request, () => requestEntity(requests)(undefined as never)),
    );
    expect(traced).toEqual({
      schema: REQUEST,
      data: { type: 'http', correlationId: 'c-1', traceId: TRACE_ID, spanId: SPAN_ID },
    });
  });

  it('outside a request there is no request entity', async () => {
    app.get(TrackerService).trackSelfDescribingEvent({ schema: CHECKOUT, data: { orderId: 'o-2', total: 1 } });
    const events = await byName();
    expect(events.get('checkout')?.contexts).toEqual([{ schema: TENANT, data: { tenant: 'acme' } }]);
  });
});

describe('the module refuses bad entities options, naming the path', () => {
  it.each([
    [{ requestEntity: 'yes' }, 'requestEntity', 'must be true or false, got string'],
    [
      { entities: [{ entity: { schema: TENANT, data: {} }, accept: ['iglu:com.acme/*/jsonschema/1-*'] }] },
      'entities[0].accept[0]',
      'has a version that is not M-R-A',
    ],
    [{ entities: {} }, 'entities', 'must be an array'],
    [{ entities: {}, requestEntity: true }, 'entities', 'must be an array'],
  ])('%j', async (more, option, reason) => {
    const error = await Test.createTestingModule({
      imports: [
        SnowplowModule.forRoot({ collectorUrl: 'http://127.0.0.1:9/', appId: 'bad', metrics: false, ...more } as never),
      ],
    })
      .compile()
      .then(
        () => undefined,
        (err: unknown) => err,
      );
    expect(error).toBeInstanceOf(InvalidOptionError);
    expect((error as InvalidOptionError).option).toBe(option);
    expect((error as InvalidOptionError).message).toContain(reason);
  });
});
