// The module's `subject` option: subject fields from the request for every event tracked inside
// it, through real Nest apps on Express and Fastify (proxies trusted) and a loopback collector.
import { Controller, INestApplication, Module, Post } from '@nestjs/common';
import { NestExpressApplication } from '@nestjs/platform-express';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import { Registry } from 'prom-client';
import { EmitterService, SnowplowRequestContext, TrackEvent, TrackerService } from '../../lib';
import { LocalCollector, startLocalCollector } from '../../lib/testing/local-collector';
import { drainedEvents, snowplowModule, trackErrors } from '../decorators/support/snowplow-app';

@Controller()
class ShopController {
  constructor(private readonly tracker: TrackerService) {}

  @Post('buy')
  @TrackEvent('bought')
  buy() {
    this.tracker.trackStructEvent({ category: 'shop', action: 'buy' });
    this.tracker.trackStructEvent({ category: 'shop', action: 'buy_as' }, { subject: { uid: 'explicit' } });
    return { ok: true };
  }
}

/** The typical sources: the client's address (proxies trusted), its User-Agent and a user id. */
function subject({ request }: SnowplowRequestContext) {
  if (request === undefined) return undefined;
  const headers = request.headers as Record<string, string | undefined>;
  if (headers['x-subject'] === 'throw') throw new Error('no user');
  return { ip: request.ip as string, ua: headers['user-agent'], uid: headers['x-user'] };
}

const adapters: Array<[string, () => FastifyAdapter | undefined]> = [
  ['Express', () => undefined],
  ['Fastify', () => new FastifyAdapter({ trustProxy: true })],
];

describe.each(adapters)('the subject option (%s)', (_platform, createAdapter) => {
  let collector: LocalCollector;
  let app: INestApplication;
  let registry: Registry;
  let base: string;

  beforeAll(async () => {
    collector = await startLocalCollector();
    registry = new Registry();
    @Module({ imports: [snowplowModule(collector, registry, { subject })], controllers: [ShopController] })
    class AppModule {}
    const moduleRef = await Test.createTestingModule({ imports: [AppModule] }).compile();
    const adapter = createAdapter();
    if (adapter) {
      app = moduleRef.createNestApplication(adapter, { logger: false });
    } else {
      const express = moduleRef.createNestApplication<NestExpressApplication>({ logger: false });
      express.set('trust proxy', true);
      app = express;
    }
    await app.listen(0, '127.0.0.1');
    base = await app.getUrl();
  });
  afterAll(async () => {
    await app?.close();
    await collector.close();
  });
  beforeEach(() => collector.reset());

  const buy = (headers: Record<string, string>) =>
    fetch(`${base.replace('[::1]', '127.0.0.1')}/buy`, { method: 'POST', headers });
  const events = async () => {
    const decoded = await drainedEvents(app.get(EmitterService), collector);
    return new Map(decoded.map((event) => [event.name, event.raw]));
  };

  it("every event of the request carries the request's fields; an event's own subject wins", async () => {
    const response = await buy({ 'x-forwarded-for': '203.0.113.7', 'user-agent': 'TestBrowser/1.0', 'x-user': 'u-42' });
    expect(response.status).toBe(201);
    const raw = await events();
    for (const name of ['bought', 'buy', 'buy_as']) {
      expect(raw.get(name)).toMatchObject({ ip: '203.0.113.7', ua: 'TestBrowser/1.0', p: 'srv' });
    }
    expect(raw.get('bought')?.uid).toBe('u-42');
    expect(raw.get('buy')?.uid).toBe('u-42');
    expect(raw.get('buy_as')?.uid).toBe('explicit');
  });

  it('outside a request nothing from a request is sent', async () => {
    app.get(TrackerService).trackStructEvent({ category: 'shop', action: 'cron' });
    const raw = (await events()).get('cron') as Record<string, string>;
    expect(raw.ua).toMatch(/^nestjs-snowplow\//);
    expect(raw).not.toHaveProperty('ip');
    expect(raw).not.toHaveProperty('uid');
  });

  it('a field the protocol refuses is left out and counted, the events still go; so does a throwing subject', async () => {
    const before = await trackErrors(registry, 'subject');
    const response = await buy({ 'user-agent': 'x'.repeat(1_500), 'x-user': 'u-1' });
    expect(response.status).toBe(201);
    let raw = await events();
    expect(raw.get('buy')).toMatchObject({ uid: 'u-1', ua: expect.stringMatching(/^nestjs-snowplow\//) });
    expect(await trackErrors(registry, 'subject')).toBe(before + 1);
    collector.reset();
    expect((await buy({ 'x-subject': 'throw', 'x-user': 'u-2' })).status).toBe(201);
    raw = await events();
    expect(raw.get('buy')).not.toHaveProperty('uid');
    expect(raw.size).toBe(3);
    expect(await trackErrors(registry, 'subject')).toBe(before + 2);
  });
});
