import { get as httpGet } from 'node:http';
import {
  BadRequestException,
  Body,
  Controller,
  Get,
  Headers,
  INestApplication,
  Injectable,
  LoggerService,
  Module,
  Param,
  Post,
} from '@nestjs/common';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import { Registry } from 'prom-client';
import request from 'supertest';
import { SnowplowRequestContext, TrackBillingEvent, TrackEvent } from '../../lib';
import { EmitterService } from '../../lib/module/emitter.service';
import { TrackerService } from '../../lib/module/tracker.service';
import { BillingEventRequiredInput } from '../../lib/tracker';
import { LocalCollector, startLocalCollector } from '../../lib/testing/local-collector';
import { billingNamed, drainedEvents, eventsNamed, snowplowModule, trackErrors } from './support/snowplow-app';

/** The parts of Express's and Fastify's request these fixtures use. */
interface Request {
  params: Record<string, string>;
  headers: Record<string, string | undefined>;
  body?: Record<string, unknown>;
}

interface Usage {
  tokens: number;
  seen?: string;
}

const tokens = (eventType: string, quantity: unknown): BillingEventRequiredInput => ({
  category: 'duo',
  eventType,
  realm: 'SaaS',
  unitOfMeasure: 'token',
  quantity: quantity as number,
});

/** Lets other requests run in between, as real I/O would. */
const yieldToOthers = () => new Promise<void>((resolve) => setTimeout(resolve, Math.floor(Math.random() * 3)));

/** Deep in the call chain, far from the controller: bills with no correlation id of its own. */
@Injectable()
class MeteringService {
  /** Calls under way now, and the most there were at once. */
  inFlight = 0;
  maxInFlight = 0;

  constructor(private readonly tracker: TrackerService) {}

  async meter(n: number): Promise<string | undefined> {
    this.maxInFlight = Math.max(this.maxInFlight, ++this.inFlight);
    await yieldToOthers();
    this.inFlight--;
    await Promise.resolve();
    this.tracker.trackBillingEventWithOptionalInput(tokens('service_tokens', n), { metadata: { n } });
    return this.tracker.correlationId();
  }
}

@Controller('usage')
class UsageController {
  constructor(
    private readonly metering: MeteringService,
    private readonly tracker: TrackerService,
  ) {}

  @Post('tokens')
  @TrackEvent<Request, Usage>('tokens_used', { props: ({ result }) => ({ tokens: result.tokens }) })
  @TrackBillingEvent<Request, Usage>(({ result }) => tokens('completion_tokens', result.tokens), {
    optional: ({ request }) => ({ projectId: Number(request?.body?.projectId), entityId: 'completion' }),
  })
  async complete(@Body() body: { tokens: number }): Promise<Usage> {
    await yieldToOthers();
    return { tokens: body.tokens, seen: this.tracker.correlationId() };
  }

  @Post('explicit')
  @TrackBillingEvent(tokens('explicit_tokens', 3), { optional: { correlationId: 'set-by-handler' } })
  explicit() {
    return { ok: true };
  }

  @Post('static')
  @TrackBillingEvent(tokens('static_tokens', 5), { optional: { projectId: 9, metadata: { plan: 'gold' } } })
  staticInput() {
    return 'static';
  }

  @Post('zero')
  @TrackBillingEvent<Request, Usage>(({ result }) => tokens('zero_tokens', result.tokens))
  zero() {
    return { tokens: 0 };
  }

  @Post('throws')
  @TrackBillingEvent<Request, Usage>(({ result }) => tokens('throwing_tokens', (result as any).missing.tokens))
  throws() {
    return { tokens: 1 };
  }

  @Post('not-an-object')
  @TrackBillingEvent(() => 'ten tokens' as unknown as BillingEventRequiredInput)
  notAnObject() {
    return { tokens: 1 };
  }

  @Post('bad-optional')
  @TrackBillingEvent(tokens('bad_optional_tokens', 1), { optional: () => ({ projectId: 1.5 }) })
  badOptional() {
    return 'bad optional';
  }

  @Post('nothing')
  @TrackBillingEvent<Request, Usage | null>(({ result }) => (result ? tokens('maybe_tokens', result.tokens) : null))
  nothing() {
    return null;
  }

  @Post('refused')
  @TrackBillingEvent<Request>(({ error }) => tokens('refused_tokens', (error as BadRequestException).getStatus()), {
    on: 'error',
  })
  refused() {
    throw new BadRequestException('no tokens for you');
  }

  @Get('concurrent/:n')
  @TrackBillingEvent<Request, Usage>(({ result }) => tokens('concurrent_tokens', result.tokens), {
    optional: ({ request }) => ({ metadata: { n: Number(request?.params.n) } }),
  })
  async concurrent(
    @Param('n') n: string,
    @Headers('x-request-id') header: string,
  ): Promise<Usage & { header: string }> {
    const seen = await this.metering.meter(Number(n));
    await yieldToOthers();
    return { tokens: Number(n), seen, header };
  }

  @Post('custom')
  @TrackEvent('custom_with_props', { props: { own: 'mine', transport: 'props win' } })
  custom() {
    this.tracker.trackEvent('custom_from_service');
    return 'custom';
  }
}

/** Collects what the app logs at error and warn level. */
class CapturingLogger implements LoggerService {
  readonly errors: string[] = [];
  readonly warnings: string[] = [];
  log(): void {}
  error(message: unknown): void {
    this.errors.push(String(message));
  }
  warn(message: unknown): void {
    this.warnings.push(String(message));
  }
}

/** enrich: the request id and transport; `x-enrich: throw` or `x-enrich: array` make it misbehave. */
function enrich(context: SnowplowRequestContext): Record<string, unknown> {
  const how = (context.request as Request | undefined)?.headers['x-enrich'];
  if (how === 'throw') throw new Error('enrich exploded');
  if (how === 'array') return [1, 2] as unknown as Record<string, unknown>;
  return { request_id: context.correlationId ?? null, transport: context.type, own: 'enrich loses' };
}

const adapters: Array<[string, () => FastifyAdapter | undefined]> = [
  ['Express', () => undefined],
  ['Fastify', () => new FastifyAdapter()],
];

/**
 * A GET on a connection of its own. fetch would reuse the kept-alive connections of the earlier
 * tests, and on a loaded machine the server may close an idle one just as a request goes out on it
 * (ECONNRESET): a race of the test client, not of the code under test.
 */
function getOnNewConnection(url: string, headers: Record<string, string>): Promise<{ status: number; body: unknown }> {
  return new Promise((resolve, reject) => {
    const request = httpGet(url, { agent: false, headers }, (response) => {
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (text += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body: JSON.parse(text) as unknown }));
      response.on('error', reject);
    });
    request.on('error', reject);
  });
}

describe.each(adapters)('@TrackBillingEvent and request correlation over HTTP (%s)', (_platform, createAdapter) => {
  let collector: LocalCollector;
  let registry: Registry;
  let app: INestApplication;
  let emitter: EmitterService;
  let logger: CapturingLogger;

  beforeAll(async () => {
    collector = await startLocalCollector();
    registry = new Registry();
    logger = new CapturingLogger();
    @Module({
      imports: [snowplowModule(collector, registry, { enrich })],
      controllers: [UsageController],
      providers: [MeteringService],
    })
    class AppModule {}
    const moduleRef = await Test.createTestingModule({ imports: [AppModule] }).compile();
    const adapter = createAdapter();
    app = adapter ? moduleRef.createNestApplication(adapter, { logger }) : moduleRef.createNestApplication({ logger });
    await app.listen(0, '127.0.0.1');
    emitter = app.get(EmitterService);
  });

  afterAll(async () => {
    await app?.close();
    await collector?.close();
  });

  const server = () => app.getHttpServer();

  it('bills the quantity from the result under the X-Request-Id, next to its @TrackEvent', async () => {
    const { body } = await request(server())
      .post('/usage/tokens')
      .set('X-Request-Id', 'req-tokens-1')
      .send({ tokens: 1234, projectId: 42 })
      .expect(201);
    expect(body).toEqual({ tokens: 1234, seen: 'req-tokens-1' });

    const usage = await billingNamed(emitter, collector, 'completion_tokens');
    expect(usage).toEqual([
      {
        event_id: expect.stringMatching(/^[0-9a-f-]{36}$/),
        event_type: 'completion_tokens',
        realm: 'SaaS',
        unit_of_measure: 'token',
        quantity: 1234,
        timestamp: expect.any(String),
        project_id: 42,
        correlation_id: 'req-tokens-1',
        entity_id: 'completion',
      },
    ]);
    const custom = await eventsNamed(emitter, collector, 'tokens_used');
    expect(custom.map((event) => event.props)).toEqual([
      { request_id: 'req-tokens-1', transport: 'http', own: 'enrich loses', tokens: 1234 },
    ]);
  });

  it('takes X-Correlation-Id when there is no X-Request-Id, X-Request-Id first when both are sent', async () => {
    await request(server())
      .post('/usage/tokens')
      .set('x-correlation-id', 'corr-only')
      .send({ tokens: 2, projectId: 1 })
      .expect(201, { tokens: 2, seen: 'corr-only' });
    await request(server())
      .post('/usage/tokens')
      .set('X-Correlation-Id', 'corr-second')
      .set('X-Request-Id', 'req-first')
      .send({ tokens: 3, projectId: 1 })
      .expect(201, { tokens: 3, seen: 'req-first' });

    const usage = await billingNamed(emitter, collector, 'completion_tokens');
    expect(usage.filter((u) => u.quantity !== 1234).map((u) => [u.quantity, u.correlation_id])).toEqual([
      [2, 'corr-only'],
      [3, 'req-first'],
    ]);
  });

  it('sends no correlation_id when the request has none, and invents none', async () => {
    const { body } = await request(server()).post('/usage/tokens').send({ tokens: 7, projectId: 1 }).expect(201);
    expect(body).toEqual({ tokens: 7 });

    const [usage] = (await billingNamed(emitter, collector, 'completion_tokens')).filter((u) => u.quantity === 7);
    expect(usage).not.toHaveProperty('correlation_id');
  });

  it("an explicit correlationId wins over the request's", async () => {
    await request(server()).post('/usage/explicit').set('X-Request-Id', 'req-ignored').expect(201);

    const usage = await billingNamed(emitter, collector, 'explicit_tokens');
    expect(usage.map((u) => u.correlation_id)).toEqual(['set-by-handler']);
  });

  it('static input and optional fields are sent as declared', async () => {
    await request(server()).post('/usage/static').set('X-Request-Id', 'req-static').expect(201, 'static');

    const usage = await billingNamed(emitter, collector, 'static_tokens');
    expect(usage).toEqual([
      expect.objectContaining({ quantity: 5, project_id: 9, metadata: { plan: 'gold' }, correlation_id: 'req-static' }),
    ]);
  });

  it("on: 'error' bills a failed call and the client still gets the handler's error", async () => {
    const { body } = await request(server()).post('/usage/refused').set('X-Request-Id', 'req-refused').expect(400);
    expect(body).toMatchObject({ statusCode: 400, message: 'no tokens for you' });

    const usage = await billingNamed(emitter, collector, 'refused_tokens');
    expect(usage.map((u) => [u.quantity, u.correlation_id])).toEqual([[400, 'req-refused']]);
  });

  it('a function returning null bills nothing and is no error', async () => {
    const before = await trackErrors(registry, 'interceptor', 'billing');
    const enqueued = emitter.stats().enqueued;
    await request(server()).post('/usage/nothing').expect(201);

    expect(emitter.stats().enqueued).toBe(enqueued);
    expect(await trackErrors(registry, 'interceptor', 'billing')).toBe(before);
  });

  it.each([
    ['zero', 'Invalid event field "quantity": must be greater than 0, got 0'],
    ['throws', "TypeError: Cannot read properties of undefined (reading 'tokens')"],
    [
      'not-an-object',
      'Invalid event field "input": the input function returned string; ' +
        'it must return a BillingEventRequiredInput, null or undefined',
    ],
    ['bad-optional', 'Invalid event field "projectId": must be a non-negative safe integer, got 1.5'],
  ])(
    'POST /usage/%s: the request succeeds, the failure is counted as billing and logged naming the handler',
    async (route, reason) => {
      const before = await trackErrors(registry, 'interceptor', 'billing');
      const custom = await trackErrors(registry, 'interceptor', 'custom');
      const enqueued = emitter.stats().enqueued;
      logger.errors.length = 0;

      await request(server()).post(`/usage/${route}`).expect(201);
      await request(server()).post(`/usage/${route}`).expect(201);

      expect(emitter.stats().enqueued).toBe(enqueued);
      expect(await trackErrors(registry, 'interceptor', 'billing')).toBe(before + 2);
      expect(await trackErrors(registry, 'interceptor', 'custom')).toBe(custom);
      // Loud on purpose: every failure is logged, at error level.
      const method = { zero: 'zero', throws: 'throws', 'not-an-object': 'notAnObject', 'bad-optional': 'badOptional' };
      const line = `billing event not sent (interceptor): @TrackBillingEvent on UsageController.${method[route as keyof typeof method]}: `;
      expect(logger.errors).toHaveLength(2);
      for (const logged of logger.errors) {
        expect(logged.startsWith(line)).toBe(true);
        expect(logged).toContain(reason);
      }
    },
  );

  it('enrich props go under every custom event of a request; the props win; nothing outside a request', async () => {
    await request(server()).post('/usage/custom').set('X-Request-Id', 'req-custom').expect(201, 'custom');
    app.get(TrackerService).trackEvent('custom_outside', { n: 1 });

    const events = await drainedEvents(emitter, collector);
    const props = (name: string) => events.filter((e) => e.name === name).map((e) => e.props);
    expect(props('custom_with_props')).toEqual([{ request_id: 'req-custom', transport: 'props win', own: 'mine' }]);
    expect(props('custom_from_service')).toEqual([
      { request_id: 'req-custom', transport: 'http', own: 'enrich loses' },
    ]);
    expect(props('custom_outside')).toEqual([{ n: 1 }]);
  });

  it('a throwing or bad enrich fails neither the request nor the event: counted, logged, ignored', async () => {
    const before = await trackErrors(registry, 'enrich', 'custom');
    logger.warnings.length = 0;

    await request(server()).post('/usage/custom').set('x-enrich', 'throw').expect(201, 'custom');
    await request(server()).post('/usage/custom').set('x-enrich', 'array').expect(201, 'custom');

    // Once per request: its two custom events share one enrich call.
    expect(await trackErrors(registry, 'enrich', 'custom')).toBe(before + 2);
    expect(logger.warnings.join('\n')).toContain('tracking failed in enrich: Error: enrich exploded');
    const events = await drainedEvents(emitter, collector);
    const latest = events.filter((e) => e.name === 'custom_from_service').slice(-2);
    expect(latest.map((e) => e.props ?? undefined)).toEqual([undefined, undefined]);
  });

  it('1,000 concurrent requests with distinct ids each bill under their own id', async () => {
    const count = 1000;
    const base = `http://127.0.0.1:${(server().address() as { port: number }).port}`;
    const before = (await billingNamed(emitter, collector, 'concurrent_tokens')).length;
    const responses = await Promise.all(
      Array.from({ length: count }, async (_, i) => {
        const n = i + 1;
        const response = await getOnNewConnection(`${base}/usage/concurrent/${n}`, { 'X-Request-Id': `req-${n}` });
        expect(response.status).toBe(200);
        return response.body as Usage & { header: string };
      }),
    );
    responses.forEach((body, i) =>
      expect(body).toEqual({ tokens: i + 1, seen: `req-${i + 1}`, header: `req-${i + 1}` }),
    );

    const fromDecorator = await billingNamed(emitter, collector, 'concurrent_tokens');
    const fromService = await billingNamed(emitter, collector, 'service_tokens');
    expect(before).toBe(0);
    for (const usage of [fromDecorator, fromService]) {
      expect(usage).toHaveLength(count);
      for (const u of usage) expect(u.correlation_id).toBe(`req-${(u.metadata as { n: number }).n}`);
      expect(new Set(usage.map((u) => u.correlation_id)).size).toBe(count);
    }
  });

  it('every billing event is schema-valid and none was dropped', async () => {
    const events = await drainedEvents(emitter, collector);
    expect(events.filter((e) => e.eventType === 'se').length).toBeGreaterThan(2000);
    expect(emitter.stats().dropped).toEqual({
      overflow: 0,
      rejected: 0,
      too_large: 0,
      expired: 0,
      shutdown: 0,
      not_stored: 0,
    });
  });
});
