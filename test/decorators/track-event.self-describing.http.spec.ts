// @TrackEvent's self-describing form and both decorators' `entities` and `subject` options, in a
// real Nest app (Express) on a loopback collector that validates every payload against
// test/fixtures/iglu (the com.acme test schemas included). The decorators come from
// createTrackDecorators<TestSchemas>(), so this file also type-checks against a catalogue. The
// module runs in strict mode (`validate`), so data that breaks its schema is refused at track
// time: the handler still answers, the failure is counted and logged, and nothing is sent.
import {
  BadRequestException,
  Body,
  Controller,
  Get,
  INestApplication,
  LoggerService,
  Module,
  Post,
  Query,
} from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { Registry } from 'prom-client';
import request from 'supertest';
import { createTrackDecorators, EmitterService, SnowplowRequestContext } from '../../lib';
import { LocalCollector, startLocalCollector } from '../../lib/testing/local-collector';
import { GoodEvent } from '../../lib/testing/types';
import { FIXTURE_IGLU_DIR } from '../support/decode';
import { drainedEvents, snowplowModule, trackErrors } from './support/snowplow-app';

const CHECKOUT = 'iglu:com.acme/checkout/jsonschema/1-0-0';
const CART = 'iglu:com.acme/cart/jsonschema/1-0-0';
const TENANT = 'iglu:com.acme/tenant/jsonschema/1-0-0';
const BILLABLE_USAGE = 'iglu:com.gitlab/billable_usage/jsonschema/1-0-2';

/** The test schemas of test/fixtures/iglu, as a user's catalogue (what nestjs-snowplow-types writes). */
interface TestSchemas {
  'iglu:com.acme/checkout/jsonschema/1-0-0': {
    readonly orderId: string;
    readonly total: number;
    readonly currency?: 'EUR' | 'USD';
  };
  'iglu:com.acme/cart/jsonschema/1-0-0': { readonly items: number; readonly coupon?: string | null };
  'iglu:com.acme/tenant/jsonschema/1-0-0': { readonly tenant: string };
}

const { TrackEvent, TrackBillingEvent } = createTrackDecorators<TestSchemas>();

/** The parts of Express's request these fixtures use. */
interface Request {
  headers: Record<string, string | undefined>;
}

interface Order {
  orderId: string;
  total: number;
  items: number;
}

const BILL = { category: 'shop', eventType: 'orders', realm: 'SaaS', unitOfMeasure: 'order', quantity: 1 } as const;

@Controller('orders')
class OrdersController {
  @Post()
  @TrackEvent<Request, Order>(
    { schema: CHECKOUT, data: ({ result }) => ({ orderId: result.orderId, total: result.total }) },
    {
      entities: ({ result, request }) => [
        { schema: CART, data: { items: result.items } },
        { schema: TENANT, data: { tenant: request?.headers['x-tenant'] ?? 'none' } },
      ],
      subject: ({ request }) => ({ uid: request?.headers['x-user'] }),
    },
  )
  create(@Body() body: { orderId: string; total: number; items: number }): Order {
    return { orderId: body.orderId, total: body.total, items: body.items };
  }

  @Post('static')
  @TrackEvent(
    { schema: CHECKOUT, data: { orderId: 'static-1', total: 0, currency: 'EUR' } },
    { entities: [{ schema: TENANT, data: { tenant: 'acme' } }], subject: { uid: 'u-static', tz: 'Europe/Berlin' } },
  )
  createStatic() {
    return { ok: true };
  }

  @Post('skippable')
  @TrackEvent<Request, Order | undefined>({
    schema: CHECKOUT,
    // undefined (or null): no event for this call.
    data: ({ result }) => (result === undefined ? undefined : { orderId: result.orderId, total: result.total }),
  })
  skippable(@Body() body: { orderId?: string }): Order | undefined {
    return body.orderId === undefined ? undefined : { orderId: body.orderId, total: 1, items: 1 };
  }

  @Post('failed')
  @TrackEvent(
    { schema: CHECKOUT, data: ({ error }) => ({ orderId: (error as Error).message, total: 0 }) },
    { on: 'error', entities: [{ schema: CART, data: { items: 0, coupon: null } }] },
  )
  failed() {
    throw new BadRequestException('o-refused');
  }

  @Get('always')
  @TrackEvent<Request, { total: number }>(
    {
      schema: CHECKOUT,
      data: (ctx) =>
        ctx.outcome === 'success'
          ? { orderId: 'always-ok', total: ctx.result.total }
          : { orderId: 'always-failed', total: 0 },
    },
    { on: 'always' },
  )
  always(@Query('fail') fail?: string) {
    if (fail) throw new BadRequestException('asked to fail');
    return { total: 7 };
  }

  @Post('data-throws')
  @TrackEvent({
    schema: CHECKOUT,
    data: () => {
      throw new Error('data exploded');
    },
  })
  dataThrows() {
    return { ok: 'still' };
  }

  @Post('entities-throw')
  @TrackEvent(
    { schema: CHECKOUT, data: { orderId: 'o-entities', total: 1 } },
    {
      entities: () => {
        throw new Error('entities exploded');
      },
    },
  )
  entitiesThrow() {
    return { ok: 'still' };
  }

  @Post('data-not-object')
  @TrackEvent({ schema: CHECKOUT, data: () => ['o-1', 1] as unknown as TestSchemas[typeof CHECKOUT] })
  dataNotObject() {
    return { ok: 'still' };
  }

  @Post('data-off-schema')
  // Type-correct, but the schema's minimum is 0: strict mode refuses it at track time.
  @TrackEvent({ schema: CHECKOUT, data: () => ({ orderId: 'o-negative', total: -1 }) })
  dataOffSchema() {
    return { ok: 'still' };
  }

  @Post('entity-off-schema')
  @TrackEvent(
    { schema: CHECKOUT, data: { orderId: 'o-2', total: 2 } },
    { entities: () => [{ schema: CART, data: { items: -3 } }] },
  )
  entityOffSchema() {
    return { ok: 'still' };
  }

  @Post('named')
  @TrackEvent<Request>('order_listed', {
    props: { page: 1 },
    entities: ({ request }) => [{ schema: TENANT, data: { tenant: request?.headers['x-tenant'] ?? 'none' } }],
    subject: { uid: 'u-named' },
  })
  named() {
    return { ok: true };
  }
}

@Controller('billing')
class BillingController {
  @Post()
  @TrackBillingEvent<Request, Order>(BILL, {
    optional: { projectId: 7 },
    entities: ({ result }) => [{ schema: CART, data: { items: result.items } }],
    subject: ({ request }) => ({ uid: request?.headers['x-user'] }),
  })
  bill() {
    return { orderId: 'b-1', total: 10, items: 4 };
  }

  @Post('failed')
  @TrackBillingEvent(BILL, { on: 'error', entities: [{ schema: TENANT, data: { tenant: 'acme' } }] })
  billFailed() {
    throw new BadRequestException('refused');
  }

  @Post('entities-throw')
  @TrackBillingEvent(BILL, {
    entities: () => {
      throw new Error('billing entities exploded');
    },
  })
  entitiesThrow() {
    return { ok: 'still' };
  }

  @Post('entities-refused')
  @TrackBillingEvent(BILL, {
    entities: () => [{ schema: CART } as never],
    subject: { uid: 'kept-out' },
  })
  entitiesRefused() {
    return { ok: 'billed' };
  }
}

@Controller('class-level')
@TrackEvent({ schema: TENANT, data: { tenant: 'class-level' } })
class ClassLevelController {
  @Get('inherited')
  inherited() {
    return 'inherited';
  }

  @Get('own')
  @TrackEvent({ schema: CART, data: { items: 1 } })
  own() {
    return 'own';
  }
}

/** The module's `subject` option: every event of a request gets these, unless the event sets its own. */
function requestSubject({ request }: SnowplowRequestContext) {
  const headers = (request as Request).headers;
  return { uid: headers['x-request-user'], lang: headers['x-lang'] };
}

describe('@TrackEvent({ schema, data }) and the entities and subject options (Express)', () => {
  let collector: LocalCollector;
  let registry: Registry;
  let app: INestApplication;
  let emitter: EmitterService;
  const warnings: string[] = [];
  const errors: string[] = [];

  beforeAll(async () => {
    collector = await startLocalCollector({ schemaDirs: [FIXTURE_IGLU_DIR] });
    registry = new Registry();
    const options = { validate: { schemas: FIXTURE_IGLU_DIR }, subject: requestSubject };
    @Module({
      imports: [snowplowModule(collector, registry, options)],
      controllers: [OrdersController, BillingController, ClassLevelController],
    })
    class AppModule {}
    const moduleRef = await Test.createTestingModule({ imports: [AppModule] }).compile();
    const logger: LoggerService = {
      log: () => undefined,
      warn: (message: unknown) => void warnings.push(String(message)),
      error: (message: unknown) => void errors.push(String(message)),
    };
    app = moduleRef.createNestApplication({ logger });
    await app.init();
    emitter = app.get(EmitterService);
  });

  afterAll(async () => {
    await app?.close();
    await collector?.close();
  });

  beforeEach(() => collector.reset());

  const server = () => app.getHttpServer();
  /** Every event that reached the collector since the test began, decoded and Iglu-validated. */
  const sent = () => drainedEvents(emitter, collector);
  const schemasOf = (event: GoodEvent) => event.contexts.map((c) => c.schema);

  it('sends the event of its schema with data, entities and subject from the call', async () => {
    await request(server())
      .post('/orders')
      .set('x-user', 'u-7')
      .set('x-tenant', 't-1')
      .send({ orderId: 'o-1', total: 42.5, items: 3 })
      .expect(201);

    const events = await sent();
    expect(events).toHaveLength(1);
    const [event] = events;
    expect(event).toMatchObject({ eventType: 'ue', schema: CHECKOUT, data: { orderId: 'o-1', total: 42.5 } });
    expect(event.contexts).toEqual([
      { schema: CART, data: { items: 3 } },
      { schema: TENANT, data: { tenant: 't-1' } },
    ]);
    expect(event.raw.uid).toBe('u-7');
  });

  it('sends static data, entities and subject as declared; the event subject wins over the request field by field', async () => {
    await request(server()).post('/orders/static').set('x-request-user', 'u-req').set('x-lang', 'de-DE').expect(201);
    await request(server()).post('/orders/static').expect(201);

    const events = await sent();
    expect(events).toHaveLength(2);
    for (const event of events) {
      expect(event).toMatchObject({ schema: CHECKOUT, data: { orderId: 'static-1', total: 0, currency: 'EUR' } });
      expect(event.contexts).toEqual([{ schema: TENANT, data: { tenant: 'acme' } }]);
      expect(event.raw).toMatchObject({ uid: 'u-static', tz: 'Europe/Berlin' });
    }
    // The request's lang stays: only the fields the event sets win.
    expect(events.map((e) => e.raw.lang ?? null).sort()).toEqual(['de-DE', null]);
  });

  it("an event without a subject of its own gets the request's", async () => {
    await request(server())
      .post('/orders/skippable')
      .set('x-request-user', 'u-req')
      .send({ orderId: 'o-3' })
      .expect(201);

    const [event] = await sent();
    expect(event.raw.uid).toBe('u-req');
  });

  it('a data function returning undefined sends no event and counts no error', async () => {
    const errorsBefore = await trackErrors(registry, 'interceptor');
    const enqueuedBefore = emitter.stats().enqueued;

    await request(server()).post('/orders/skippable').send({}).expect(201);

    expect(emitter.stats().enqueued).toBe(enqueuedBefore);
    expect(await trackErrors(registry, 'interceptor')).toBe(errorsBefore);
    await request(server()).post('/orders/skippable').send({ orderId: 'o-4' }).expect(201);
    const events = await sent();
    expect(events.map((e) => e.data)).toEqual([{ orderId: 'o-4', total: 1 }]);
  });

  it("on: 'error' builds the data from the error, and the client gets the handler's error", async () => {
    await request(server()).post('/orders/failed').expect(400, {
      message: 'o-refused',
      error: 'Bad Request',
      statusCode: 400,
    });

    const [event] = await sent();
    expect(event).toMatchObject({ schema: CHECKOUT, data: { orderId: 'o-refused', total: 0 } });
    expect(event.contexts).toEqual([{ schema: CART, data: { items: 0, coupon: null } }]);
  });

  it("on: 'always' sends one event per call, success or error", async () => {
    await request(server()).get('/orders/always').expect(200, { total: 7 });
    await request(server()).get('/orders/always?fail=1').expect(400);

    const events = await sent();
    expect(events.map((e) => e.data)).toEqual(
      expect.arrayContaining([
        { orderId: 'always-ok', total: 7 },
        { orderId: 'always-failed', total: 0 },
      ]),
    );
    expect(events).toHaveLength(2);
  });

  it('a throwing data or entities function sends nothing, is counted and logged with the handler; the call succeeds', async () => {
    const errorsBefore = await trackErrors(registry, 'interceptor', 'custom');
    const enqueuedBefore = emitter.stats().enqueued;

    await request(server()).post('/orders/data-throws').expect(201, { ok: 'still' });
    await request(server()).post('/orders/entities-throw').expect(201, { ok: 'still' });

    expect(emitter.stats().enqueued).toBe(enqueuedBefore);
    expect(await trackErrors(registry, 'interceptor', 'custom')).toBe(errorsBefore + 2);
    // Custom-event failures are warned about at most once per 10 s: this is the app's first.
    expect(warnings).toContain(
      'tracking failed in interceptor: @TrackEvent on OrdersController.dataThrows: Error: data exploded',
    );
    expect(await sent()).toEqual([]);
  });

  it('data or entities the tracker refuses send nothing and are counted: not an object, off their schema', async () => {
    const errorsBefore = await trackErrors(registry, 'interceptor', 'custom');
    const enqueuedBefore = emitter.stats().enqueued;

    await request(server()).post('/orders/data-not-object').expect(201, { ok: 'still' });
    await request(server()).post('/orders/data-off-schema').expect(201, { ok: 'still' });
    await request(server()).post('/orders/entity-off-schema').expect(201, { ok: 'still' });

    expect(emitter.stats().enqueued).toBe(enqueuedBefore);
    expect(await trackErrors(registry, 'interceptor', 'custom')).toBe(errorsBefore + 3);
    expect(await sent()).toEqual([]);
    expect(collector.bad()).toEqual([]);
  });

  it('an event name takes entities and subject too: the custom_event keeps its shape', async () => {
    await request(server()).post('/orders/named').set('x-tenant', 't-9').expect(201);

    const [event] = await sent();
    expect(event).toMatchObject({
      name: 'order_listed',
      schema: 'iglu:com.gitlab/custom_event/jsonschema/1-0-0',
      props: { page: 1 },
    });
    expect(event.contexts).toEqual([{ schema: TENANT, data: { tenant: 't-9' } }]);
    expect(event.raw.uid).toBe('u-named');
  });

  it('a class-level self-describing @TrackEvent covers every handler; a method-level one wins', async () => {
    await request(server()).get('/class-level/inherited').expect(200, 'inherited');
    await request(server()).get('/class-level/own').expect(200, 'own');

    const events = await sent();
    expect(events.map((e) => [e.schema, e.data])).toEqual(
      expect.arrayContaining([
        [TENANT, { tenant: 'class-level' }],
        [CART, { items: 1 }],
      ]),
    );
    expect(events).toHaveLength(2);
  });

  it('@TrackBillingEvent sends its entities after billable_usage, with the subject', async () => {
    await request(server()).post('/billing').set('x-user', 'u-bill').expect(201);
    await request(server()).post('/billing/failed').expect(400);

    const events = await sent();
    expect(events).toHaveLength(2);
    const [billed, failed] = [events.find((e) => e.raw.uid === 'u-bill'), events.find((e) => e.raw.uid !== 'u-bill')];
    expect(billed?.eventType).toBe('se');
    expect(schemasOf(billed!)).toEqual([BILLABLE_USAGE, CART]);
    expect(billed?.contexts[0].data).toMatchObject({ project_id: 7, quantity: 1 });
    expect(billed?.contexts[1].data).toEqual({ items: 4 });
    expect(schemasOf(failed!)).toEqual([BILLABLE_USAGE, TENANT]);
    expect(failed?.contexts[1].data).toEqual({ tenant: 'acme' });
  });

  it('a throwing billing entities function never costs the bill: it is sent without them, warned and counted', async () => {
    const notSentBefore = await trackErrors(registry, 'interceptor', 'billing');
    const leftOutBefore = await trackErrors(registry, 'entities', 'billing');
    errors.length = 0;
    warnings.length = 0;

    await request(server()).post('/billing/entities-throw').expect(201, { ok: 'still' });

    const events = await sent();
    expect(events).toHaveLength(1);
    expect(events[0].eventType).toBe('se');
    expect(schemasOf(events[0])).toEqual([BILLABLE_USAGE]);
    expect(await trackErrors(registry, 'interceptor', 'billing')).toBe(notSentBefore);
    expect(await trackErrors(registry, 'entities', 'billing')).toBe(leftOutBefore + 1);
    expect(errors).toEqual([]);
    expect(warnings).toEqual([
      '@TrackBillingEvent on BillingController.entitiesThrow: its entities or subject failed ' +
        `(Error: billing entities exploded); the bill ${events[0].eid} was sent without them. ` +
        'Every such bill is counted in track_errors_total{source="entities",kind="billing"}',
    ]);
  });

  it('billing entities the tracker refuses are left out with the subject; the bill is sent', async () => {
    const leftOutBefore = await trackErrors(registry, 'entities', 'billing');
    warnings.length = 0;

    await request(server()).post('/billing/entities-refused').expect(201, { ok: 'billed' });

    const events = await sent();
    expect(events).toHaveLength(1);
    expect(schemasOf(events[0])).toEqual([BILLABLE_USAGE]);
    expect(events[0].raw.uid).toBeUndefined();
    expect(await trackErrors(registry, 'entities', 'billing')).toBe(leftOutBefore + 1);
    expect(warnings).toEqual([
      expect.stringContaining(
        '@TrackBillingEvent on BillingController.entitiesRefused: its entities or subject failed ' +
          '(InvalidEventError: Invalid event field "options.entities[0].data"',
      ),
    ]);
  });
});
