import { CallHandler, Controller, Get, INestApplication, Module } from '@nestjs/common';
import { ExecutionContextHost } from '@nestjs/core/helpers/execution-context-host';
import { Test } from '@nestjs/testing';
import { Registry } from 'prom-client';
import { defer, EMPTY, lastValueFrom, Observable, of, throwError } from 'rxjs';
import request from 'supertest';
import { TrackEvent } from '../../lib/decorators';
import { EmitterStoppedError } from '../../lib/errors';
import { TrackEventInterceptor } from '../../lib/interceptors';
import { EmitterService } from '../../lib/module/emitter.service';
import { TrackerService } from '../../lib/module/tracker.service';
import { TestCollector } from '../support/test-collector';
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

  @TrackEvent('direct', { on: 'always', props: (ctx) => ({ outcome: ctx.outcome, result: ctx.result ?? null }) })
  direct(): void {}

  @TrackEvent('direct_on_error', { on: 'error' })
  directOnError(): void {}
}

describe('TrackEventInterceptor', () => {
  let collector: TestCollector;
  let registry: Registry;
  let app: INestApplication;
  let emitter: EmitterService;
  let interceptor: TrackEventInterceptor;

  beforeEach(async () => {
    collector = await TestCollector.start();
    registry = new Registry();
    @Module({ imports: [snowplowModule(collector, registry)], controllers: [FixtureController] })
    class AppModule {}
    const moduleRef = await Test.createTestingModule({ imports: [AppModule] }).compile();
    app = moduleRef.createNestApplication({ logger: false });
    interceptor = new TrackEventInterceptor(app.get(TrackerService));
    app.useGlobalInterceptors(interceptor);
    await app.init();
    emitter = app.get(EmitterService);
  });

  afterEach(async () => {
    await app?.close();
    await collector?.close();
  });

  /** Runs the interceptor around `handle` as Nest would for FixtureController[method]. */
  function intercept(method: 'direct' | 'directOnError', handle: () => Observable<unknown>): Observable<unknown> {
    const controller = new FixtureController();
    const context = new ExecutionContextHost([{ fake: 'rpc data' }], FixtureController, controller[method]);
    context.setType('rpc');
    const next: CallHandler = { handle };
    return interceptor.intercept(context, next);
  }

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

  it('tracks on completion when the handler completes without a value', async () => {
    await expect(
      lastValueFrom(
        intercept('direct', () => EMPTY),
        { defaultValue: 'none' },
      ),
    ).resolves.toBe('none');

    const events = await eventsNamed(emitter, collector, 'direct');
    expect(events.map((e) => e.props)).toEqual([{ outcome: 'success', result: null }]);
  });

  it('tracks the first value once, even if the stream later errors or is subscribed again', async () => {
    const failure = new Error('after the first value');
    const source$ = intercept(
      'direct',
      () =>
        new Observable((subscriber) => {
          subscriber.next('first');
          subscriber.next('second');
          subscriber.error(failure);
        }),
    );
    await expect(lastValueFrom(source$)).rejects.toBe(failure);
    await expect(lastValueFrom(source$)).rejects.toBe(failure);

    const events = await eventsNamed(emitter, collector, 'direct');
    expect(events.map((e) => e.props)).toEqual([{ outcome: 'success', result: 'first' }]);
  });

  it("passes the handler's error object through unchanged", async () => {
    const failure = new Error('handler failed');
    let subscribed = 0;
    const source$ = intercept('directOnError', () => defer(() => (subscribed++, throwError(() => failure))));

    await expect(lastValueFrom(source$)).rejects.toBe(failure);
    expect(subscribed).toBe(1);
    expect(emitter.stats().enqueued).toBe(1);
    const events = await eventsNamed(emitter, collector, 'direct_on_error');
    expect(events).toHaveLength(1);
    expect(events[0].props ?? undefined).toBeUndefined();
  });

  it("does not track a success under on: 'error'", async () => {
    await expect(lastValueFrom(intercept('directOnError', () => of('fine')))).resolves.toBe('fine');

    expect(emitter.stats().enqueued).toBe(0);
    expect(await drainedEvents(emitter, collector)).toHaveLength(0);
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
