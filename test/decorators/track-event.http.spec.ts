import {
  ArgumentsHost,
  BadRequestException,
  Body,
  Catch,
  Controller,
  ExceptionFilter,
  Get,
  HttpException,
  INestApplication,
  Module,
  Param,
  Post,
  Query,
  UseFilters,
} from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import { Registry } from 'prom-client';
import { of } from 'rxjs';
import request from 'supertest';
import { TrackEvent } from '../../lib/decorators';
import { TrackEventContext } from '../../lib/interceptors/track-event.metadata';
import { EmitterService } from '../../lib/module/emitter.service';
import { LocalCollector, startLocalCollector } from '../../lib/testing/local-collector';
import { drainedEvents, eventsNamed, snowplowModule, trackErrors } from './support/snowplow-app';

/** The parts of Express's request and response these fixtures use. */
interface Request {
  params: Record<string, string>;
  query: Record<string, string | undefined>;
  body: { name: string };
}

class TeapotError extends Error {}
const thrownByFilteredRoute = new TeapotError('short and stout');
const seenByFilter: unknown[] = [];

@Catch(TeapotError)
class TeapotFilter implements ExceptionFilter {
  constructor(private readonly adapterHost: HttpAdapterHost) {}

  catch(exception: TeapotError, host: ArgumentsHost): void {
    seenByFilter.push(exception);
    // Through the adapter, so the same filter answers on Express and Fastify.
    this.adapterHost.httpAdapter.reply(host.switchToHttp().getResponse(), { teapot: exception.message }, 418);
  }
}

@Controller('items')
class ItemsController {
  @Get(':id')
  @TrackEvent<Request, { id: string; name: string }>('item_viewed', {
    props: ({ request, args, result, durationMs }) => ({
      id: request?.params.id,
      q: request?.query.q,
      sameRequest: args[0] === request,
      name: result.name,
      durationMs,
    }),
  })
  view(@Param('id') id: string) {
    return { id, name: `item-${id}` };
  }

  @Post()
  @TrackEvent('item_created', { props: { source: 'api', nested: { level: 2, tags: ['a', 'b'] } } })
  create(@Body() body: { name: string }) {
    return { created: body.name };
  }

  @Post('from-args')
  @TrackEvent('item_created_from_args', {
    props: ({ args, result }: TrackEventContext<Request>) => ({ bodyName: args[0].body.name, created: result.created }),
  })
  async createAsync(@Body() body: { name: string }) {
    await Promise.resolve();
    return { created: body.name };
  }
}

@Controller('outcomes')
class OutcomesController {
  @Get('error-only')
  @TrackEvent('failed_with_error', {
    on: 'error',
    props: ({ error, outcome }) => ({ outcome, status: (error as HttpException).getStatus() }),
  })
  errorOnly(@Query('fail') fail?: string) {
    if (fail) throw new HttpException({ code: 'TEAPOT', detail: 'no coffee here' }, 418);
    return { ok: true };
  }

  @Get('always')
  @TrackEvent('always_tracked', {
    on: 'always',
    props: (ctx) =>
      ctx.outcome === 'success'
        ? { outcome: ctx.outcome, value: ctx.result.value }
        : { outcome: ctx.outcome, message: (ctx.error as Error).message },
  })
  always(@Query('fail') fail?: string) {
    if (fail) throw new BadRequestException('asked to fail');
    return { value: 7 };
  }

  @Get('default-on')
  @TrackEvent('default_on_success')
  defaultOn(@Query('fail') fail?: string) {
    if (fail) throw new BadRequestException('asked to fail');
    return { ok: true };
  }

  @Get('filtered')
  @UseFilters(TeapotFilter)
  @TrackEvent('filtered_error', {
    on: 'error',
    props: ({ error }) => ({ isOriginal: error === thrownByFilteredRoute }),
  })
  filtered() {
    throw thrownByFilteredRoute;
  }

  @Get('props-throws')
  @TrackEvent('props_throws', {
    props: () => {
      throw new Error('props exploded');
    },
  })
  propsThrows() {
    return { ok: 'still' };
  }

  @Get('props-not-object')
  @TrackEvent('props_not_object', { props: () => ['not', 'an', 'object'] as unknown as Record<string, unknown> })
  propsNotObject() {
    return { ok: 'still' };
  }

  @Get('props-undefined')
  @TrackEvent('props_undefined', { props: () => undefined })
  propsUndefined() {
    return 'plain text';
  }

  @Get('stream')
  @TrackEvent('stream_first', { props: ({ result }) => ({ first: result }) })
  stream() {
    return of(1, 2, 3);
  }
}

@Controller('class-level')
@TrackEvent('class_level', { props: ({ executionContext }) => ({ handler: executionContext.getHandler().name }) })
class ClassLevelController {
  @Get('a')
  a() {
    return 'a';
  }

  @Post('b')
  b() {
    return 'b';
  }

  @Get('own')
  @TrackEvent('method_level', { props: { own: true } })
  own() {
    return 'own';
  }
}

@TrackEvent('base_class_level')
class BaseController {
  @Get('inherited')
  inherited() {
    return 'inherited';
  }
}

@Controller('subclass')
@TrackEvent('subclass_level')
class SubController extends BaseController {}

const adapters: Array<[string, () => FastifyAdapter | undefined]> = [
  ['Express', () => undefined],
  ['Fastify', () => new FastifyAdapter()],
];

describe.each(adapters)('@TrackEvent over HTTP (%s)', (_platform, createAdapter) => {
  let collector: LocalCollector;
  let registry: Registry;
  let app: INestApplication;
  let emitter: EmitterService;

  beforeAll(async () => {
    collector = await startLocalCollector();
    registry = new Registry();
    @Module({
      imports: [snowplowModule(collector, registry)],
      controllers: [ItemsController, OutcomesController, ClassLevelController, SubController],
    })
    class AppModule {}
    const moduleRef = await Test.createTestingModule({ imports: [AppModule] }).compile();
    const adapter = createAdapter();
    app = adapter
      ? moduleRef.createNestApplication(adapter, { logger: false })
      : moduleRef.createNestApplication({ logger: false });
    await app.init();
    if (adapter) await adapter.getInstance().ready();
    emitter = app.get(EmitterService);
  });

  afterAll(async () => {
    await app?.close();
    await collector?.close();
  });

  const server = () => app.getHttpServer();

  it('tracks a GET once with props built from the request, args and result', async () => {
    await request(server()).get('/items/42?q=blue').expect(200, { id: '42', name: 'item-42' });

    const events = await eventsNamed(emitter, collector, 'item_viewed');
    expect(events).toHaveLength(1);
    const [event] = events;
    expect(event.eventType).toBe('ue');
    expect(event.raw.aid).toBe('track-event-spec');
    expect(event.eid).toEqual(expect.stringMatching(/^[0-9a-f-]{36}$/));
    expect(event.props).toMatchObject({ id: '42', q: 'blue', sameRequest: true, name: 'item-42' });
    expect(typeof event.props?.durationMs).toBe('number');
    expect(event.props?.durationMs as number).toBeGreaterThanOrEqual(0);
  });

  it('tracks a POST once with static props', async () => {
    await request(server()).post('/items').send({ name: 'lamp' }).expect(201, { created: 'lamp' });

    const events = await eventsNamed(emitter, collector, 'item_created');
    expect(events).toHaveLength(1);
    expect(events[0].props).toEqual({ source: 'api', nested: { level: 2, tags: ['a', 'b'] } });
  });

  it('tracks an async POST with props from ctx.args and ctx.result', async () => {
    await request(server()).post('/items/from-args').send({ name: 'chair' }).expect(201, { created: 'chair' });

    const events = await eventsNamed(emitter, collector, 'item_created_from_args');
    expect(events).toHaveLength(1);
    expect(events[0].props).toEqual({ bodyName: 'chair', created: 'chair' });
  });

  it("on: 'error' tracks a thrown HttpException once and the client gets its status and body", async () => {
    await request(server()).get('/outcomes/error-only').expect(200, { ok: true });
    await request(server())
      .get('/outcomes/error-only?fail=1')
      .expect(418, { code: 'TEAPOT', detail: 'no coffee here' });

    const events = await eventsNamed(emitter, collector, 'failed_with_error');
    expect(events).toHaveLength(1);
    expect(events[0].props).toEqual({ outcome: 'error', status: 418 });
  });

  it('rethrows the very error object the handler threw', async () => {
    seenByFilter.length = 0;
    await request(server()).get('/outcomes/filtered').expect(418, { teapot: 'short and stout' });

    expect(seenByFilter).toEqual([thrownByFilteredRoute]);
    expect(seenByFilter[0]).toBe(thrownByFilteredRoute);
    const events = await eventsNamed(emitter, collector, 'filtered_error');
    expect(events).toHaveLength(1);
    expect(events[0].props).toEqual({ isOriginal: true });
  });

  it("on: 'always' tracks successes and errors", async () => {
    await request(server()).get('/outcomes/always').expect(200, { value: 7 });
    await request(server()).get('/outcomes/always?fail=1').expect(400);

    const events = await eventsNamed(emitter, collector, 'always_tracked');
    expect(events.map((e) => e.props)).toEqual(
      expect.arrayContaining([
        { outcome: 'success', value: 7 },
        { outcome: 'error', message: 'asked to fail' },
      ]),
    );
    expect(events).toHaveLength(2);
  });

  it('by default tracks successes only', async () => {
    await request(server()).get('/outcomes/default-on?fail=1').expect(400);
    expect(await eventsNamed(emitter, collector, 'default_on_success')).toHaveLength(0);

    await request(server()).get('/outcomes/default-on').expect(200, { ok: true });
    const events = await eventsNamed(emitter, collector, 'default_on_success');
    expect(events).toHaveLength(1);
    expect(events[0].props ?? undefined).toBeUndefined();
  });

  it('answers normally when the props function throws or returns a non-object, and counts the failure', async () => {
    const errorsBefore = await trackErrors(registry);
    const enqueuedBefore = emitter.stats().enqueued;

    await request(server()).get('/outcomes/props-throws').expect(200, { ok: 'still' });
    await request(server()).get('/outcomes/props-not-object').expect(200, { ok: 'still' });

    expect(emitter.stats().enqueued).toBe(enqueuedBefore);
    expect(await trackErrors(registry)).toBe(errorsBefore + 2);
    const names = (await drainedEvents(emitter, collector)).map((e) => e.name);
    expect(names).not.toContain('props_throws');
    expect(names).not.toContain('props_not_object');
  });

  it('sends no props when the props function returns undefined', async () => {
    await request(server()).get('/outcomes/props-undefined').expect(200, 'plain text');

    const events = await eventsNamed(emitter, collector, 'props_undefined');
    expect(events).toHaveLength(1);
    expect(events[0].props ?? undefined).toBeUndefined();
  });

  it('tracks an observable handler once, with its first value', async () => {
    await request(server()).get('/outcomes/stream').expect(200);

    const events = await eventsNamed(emitter, collector, 'stream_first');
    expect(events).toHaveLength(1);
    expect(events[0].props).toEqual({ first: 1 });
  });

  it('a class-level @TrackEvent tracks every handler; a method-level one wins with one event per call', async () => {
    await request(server()).get('/class-level/a').expect(200, 'a');
    await request(server()).post('/class-level/b').expect(201, 'b');
    await request(server()).get('/class-level/own').expect(200, 'own');
    await request(server()).get('/class-level/own').expect(200, 'own');

    const events = await drainedEvents(emitter, collector);
    const classLevel = events.filter((e) => e.name === 'class_level').map((e) => e.props?.handler);
    expect(classLevel.sort()).toEqual(['a', 'b']);
    const methodLevel = events.filter((e) => e.name === 'method_level');
    expect(methodLevel).toHaveLength(2);
    expect(methodLevel.map((e) => e.props)).toEqual([{ own: true }, { own: true }]);
  });

  it("a subclass's class-level @TrackEvent replaces its parent's, one event per call", async () => {
    await request(server()).get('/subclass/inherited').expect(200, 'inherited');

    const events = await drainedEvents(emitter, collector);
    expect(events.filter((e) => e.name === 'subclass_level')).toHaveLength(1);
    expect(events.filter((e) => e.name === 'base_class_level')).toHaveLength(0);
  });

  it('every tracked event is schema-valid and none failed', async () => {
    const events = await drainedEvents(emitter, collector);
    expect(events.length).toBeGreaterThan(0);
    expect(events.every((e) => e.schema === 'iglu:com.gitlab/custom_event/jsonschema/1-0-0')).toBe(true);
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
