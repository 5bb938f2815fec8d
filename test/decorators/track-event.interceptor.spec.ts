import { ConflictException, Controller, Get, INestApplication, INestMicroservice, Module } from '@nestjs/common';
import {
  ClientProxy,
  ClientProxyFactory,
  MessagePattern,
  MicroserviceOptions,
  RpcException,
  Transport,
} from '@nestjs/microservices';
import { Test } from '@nestjs/testing';
import { AddressInfo, Server } from 'node:net';
import { Registry } from 'prom-client';
import { EMPTY, lastValueFrom, Observable, of, toArray } from 'rxjs';
import request from 'supertest';
import { TrackEvent } from '../../lib/decorators';
import { EmitterStoppedError } from '../../lib/errors';
import { TrackEventInterceptor } from '../../lib/interceptors';
import { EmitterService } from '../../lib/module/emitter.service';
import { TrackerService } from '../../lib/module/tracker.service';
import { LocalCollector, startLocalCollector } from '../../lib/testing/local-collector';
import { drainedEvents, eventsNamed, snowplowModule, trackErrors } from './support/snowplow-app';

@Controller()
class FixtureController {
  @Get('tracked')
  @TrackEvent('tracked', { props: { via: 'decorator' } })
  tracked() {
    return 'tracked';
  }

  @Get('untracked')
  untracked() {
    return 'untracked';
  }

  /** Answers 409 with a body of its own: the client must get exactly that. */
  @Get('conflict')
  @TrackEvent('http_on_error', { on: 'error' })
  conflict(): never {
    handlerCalls++;
    throw new ConflictException({ code: 'job_finished', detail: 'only a running job can be canceled' });
  }

  @Get('fine')
  @TrackEvent('http_on_error_only', { on: 'error' })
  fine() {
    return 'fine';
  }

  /** HTTP answers with the last value; the event records the first. */
  @Get('several')
  @TrackEvent('http_several', { props: (ctx) => ({ result: ctx.result as string }) })
  several(): Observable<string> {
    return of('first', 'second', 'third');
  }
}

let handlerCalls = 0;

/** Microservice handlers for the stream edge cases: a handler's observable reaches the client as it is. */
@Controller()
class StreamController {
  @MessagePattern({ cmd: 'nothing' })
  @TrackEvent('rpc_empty', { on: 'always', props: (ctx) => ({ outcome: ctx.outcome, result: ctx.result ?? null }) })
  nothing(): Observable<never> {
    return EMPTY;
  }

  @MessagePattern({ cmd: 'values-then-error' })
  @TrackEvent('rpc_first_value', {
    on: 'always',
    props: (ctx) => ({ outcome: ctx.outcome, result: ctx.result as string }),
  })
  valuesThenError(): Observable<string> {
    handlerCalls++;
    return new Observable((subscriber) => {
      subscriber.next('first');
      subscriber.next('second');
      subscriber.error(new RpcException('after the first value'));
    });
  }
}

describe('TrackEventInterceptor', () => {
  let collector: LocalCollector;
  let registry: Registry;
  let app: INestApplication;
  let emitter: EmitterService;

  beforeEach(async () => {
    collector = await startLocalCollector();
    registry = new Registry();
    @Module({ imports: [snowplowModule(collector, registry)], controllers: [FixtureController] })
    class AppModule {}
    const moduleRef = await Test.createTestingModule({ imports: [AppModule] }).compile();
    app = moduleRef.createNestApplication({ logger: false });
    app.useGlobalInterceptors(new TrackEventInterceptor(app.get(TrackerService)));
    await app.init();
    emitter = app.get(EmitterService);
  });

  afterEach(async () => {
    await app?.close();
    await collector?.close();
  });

  it('sends one event when also bound globally, and leaves undecorated handlers alone', async () => {
    await request(app.getHttpServer()).get('/tracked').expect(200, 'tracked');
    await request(app.getHttpServer()).get('/untracked').expect(200, 'untracked');

    const events = await drainedEvents(emitter, collector);
    expect(events.map((e) => [e.name, e.props])).toEqual([['tracked', { via: 'decorator' }]]);
  });

  it('answers normally when the emitter is stopped, and counts the failure', async () => {
    await emitter.stop();
    const before = await trackErrors(registry);
    expect(() => app.get(TrackerService).trackEvent('probe')).toThrow(EmitterStoppedError);

    await request(app.getHttpServer()).get('/tracked').expect(200, 'tracked');

    expect(await trackErrors(registry)).toBe(before + 1);
    expect(collector.events()).toHaveLength(0);
  });

  it("passes the handler's error through unchanged: the client gets its status and body, the handler runs once", async () => {
    handlerCalls = 0;
    await request(app.getHttpServer())
      .get('/conflict')
      .expect(409, { code: 'job_finished', detail: 'only a running job can be canceled' });

    expect(handlerCalls).toBe(1);
    const events = await eventsNamed(emitter, collector, 'http_on_error');
    expect(events).toHaveLength(1);
    expect(events[0].props ?? undefined).toBeUndefined();
  });

  it("does not track a success under on: 'error'", async () => {
    await request(app.getHttpServer()).get('/fine').expect(200, 'fine');

    expect(emitter.stats().enqueued).toBe(0);
    expect(await drainedEvents(emitter, collector)).toHaveLength(0);
  });

  it('tracks the first value of a handler that emits several, once; HTTP answers with the last', async () => {
    await request(app.getHttpServer()).get('/several').expect(200, 'third');

    const events = await eventsNamed(emitter, collector, 'http_several');
    expect(events.map((e) => e.props)).toEqual([{ result: 'first' }]);
  });
});

describe('TrackEventInterceptor on microservice streams', () => {
  let collector: LocalCollector;
  let app: INestMicroservice;
  let client: ClientProxy;
  let emitter: EmitterService;

  beforeEach(async () => {
    collector = await startLocalCollector();
    @Module({ imports: [snowplowModule(collector, new Registry())], controllers: [StreamController] })
    class StreamModule {}
    const moduleRef = await Test.createTestingModule({ imports: [StreamModule] }).compile();
    app = moduleRef.createNestMicroservice<MicroserviceOptions>({
      transport: Transport.TCP,
      options: { host: '127.0.0.1', port: 0 },
    });
    app.useLogger(false);
    await app.listen();
    emitter = app.get(EmitterService);
    const { port } = app.unwrap<Server>().address() as AddressInfo;
    client = ClientProxyFactory.create({ transport: Transport.TCP, options: { host: '127.0.0.1', port } });
    await client.connect();
  });

  afterEach(async () => {
    await client?.close();
    await app?.close();
    await collector?.close();
  });

  it('tracks on completion when the handler completes without a value', async () => {
    await expect(lastValueFrom(client.send({ cmd: 'nothing' }, {}), { defaultValue: 'none' })).resolves.toBe('none');

    const events = await eventsNamed(emitter, collector, 'rpc_empty');
    expect(events.map((e) => e.props)).toEqual([{ outcome: 'success', result: null }]);
  });

  it('tracks the first value once, though the stream goes on and then errors; each call is tracked once', async () => {
    handlerCalls = 0;
    for (let call = 0; call < 2; call++) {
      const received: string[] = [];
      await expect(
        lastValueFrom(
          client.send<string>({ cmd: 'values-then-error' }, {}).pipe(
            (source) =>
              new Observable<string>((subscriber) =>
                source.subscribe({
                  next: (value) => (received.push(value), subscriber.next(value)),
                  error: (err) => subscriber.error(err),
                  complete: () => subscriber.complete(),
                }),
              ),
            toArray(),
          ),
        ),
      ).rejects.toMatchObject({ message: 'after the first value' });
      expect(received).toEqual(['first', 'second']);
    }

    expect(handlerCalls).toBe(2);
    const events = await eventsNamed(emitter, collector, 'rpc_first_value');
    expect(events.map((e) => e.props)).toEqual([
      { outcome: 'success', result: 'first' },
      { outcome: 'success', result: 'first' },
    ]);
  });
});

describe('TrackEventInterceptor wiring', () => {
  it('fails at startup, naming TrackerService, when the module does not import SnowplowModule', async () => {
    @Module({ controllers: [FixtureController] })
    class WithoutSnowplowModule {}

    await expect(Test.createTestingModule({ imports: [WithoutSnowplowModule] }).compile()).rejects.toThrow(
      /TrackEventInterceptor.*TrackerService/s,
    );
  });
});
