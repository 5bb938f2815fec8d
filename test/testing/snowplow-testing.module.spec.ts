// A user-style spec: how an app's own tests assert on tracking without a Snowplow pipeline.
import { Body, Controller, Injectable, Module, Post } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import request from 'supertest';
import { EmitterService, SnowplowModule, TrackEvent, TrackerService } from '../../lib';
import { SnowplowTestingCapture, SnowplowTestingModule } from '../../lib/testing';
import { LocalCollector, startLocalCollector } from '../../lib/testing/local-collector';

@Injectable()
class CheckoutService {
  constructor(private readonly tracker: TrackerService) {}

  checkout(cart: { items: number; total: number }) {
    this.tracker.trackEvent('checkout_completed', { items: cart.items, total: cart.total });
    this.tracker.trackBillingEventWithOptionalInput(
      { category: 'billing', eventType: 'seats', realm: 'SaaS', unitOfMeasure: 'seat', quantity: cart.items },
      { namespaceId: 42, metadata: { plan: 'premium' } },
    );
    return { ok: true };
  }
}

@Controller('cart')
class CartController {
  constructor(private readonly checkoutService: CheckoutService) {}

  @Post('checkout')
  @TrackEvent('checkout_clicked', {
    props: (ctx) => ({ items: (ctx.request as { body: { items: number } }).body.items }),
  })
  checkout(@Body() cart: { items: number; total: number }) {
    return this.checkoutService.checkout(cart);
  }
}

describe('SnowplowTestingModule.forRoot() in place of SnowplowModule', () => {
  @Module({
    imports: [SnowplowTestingModule.forRoot({ appId: 'shop' })],
    controllers: [CartController],
    providers: [CheckoutService],
  })
  class ShopTestModule {}

  let capture: SnowplowTestingCapture;
  let service: CheckoutService;
  beforeAll(async () => {
    const moduleRef = await Test.createTestingModule({ imports: [ShopTestModule] }).compile();
    capture = moduleRef.get(SnowplowTestingCapture);
    service = moduleRef.get(CheckoutService);
  });
  afterEach(() => capture.reset());

  it('captures the events the service tracks, decoded', () => {
    service.checkout({ items: 3, total: 59.9 });
    const [event] = capture.expectTracked({ name: 'checkout_completed' }, { items: 3 }, 1);
    expect(event.props).toEqual({ items: 3, total: 59.9 });
    expect(event.raw).toMatchObject({ e: 'ue', aid: 'shop', p: 'srv' });
    expect(capture.billingEvents({ name: 'seats' })).toEqual([
      expect.objectContaining({ realm: 'SaaS', quantity: 3, namespace_id: 42, metadata: { plan: 'premium' } }),
    ]);
    expect(capture.bad()).toEqual([]);
  });

  it('reset() between tests starts from nothing, and a failed expectation lists what was captured', () => {
    expect(capture.events()).toEqual([]);
    service.checkout({ items: 1, total: 5 });
    expect(() => capture.expectTracked({ name: 'checkout_completed' }, { items: 2 })).toThrow(
      /expected at least 1 event\(s\) matching .*found 0\. Captured: \n {2}checkout_completed \{"items":1,"total":5\}/,
    );
  });

  it('a stopped capture rejects events like a stopped emitter', async () => {
    await capture.stop();
    expect(() => service.checkout({ items: 1, total: 1 })).toThrow('stopped');
  });
});

describe('SnowplowTestingModule.override() on an app that imports the real SnowplowModule', () => {
  let collector: LocalCollector;
  beforeAll(async () => {
    collector = await startLocalCollector();
  });
  afterAll(() => collector.close());

  it('keeps events in memory: @TrackEvent and TrackerService events are captured, none reach the collector', async () => {
    @Module({
      imports: [SnowplowModule.forRoot({ collectorUrl: collector.endpoint, appId: 'shop', metrics: false })],
      controllers: [CartController],
      providers: [CheckoutService],
    })
    class AppModule {}

    const moduleRef = await SnowplowTestingModule.override(
      Test.createTestingModule({ imports: [AppModule] }),
    ).compile();
    const app = moduleRef.createNestApplication({ logger: false });
    await app.init();
    await request(app.getHttpServer()).post('/cart/checkout').send({ items: 2, total: 10 }).expect(201, { ok: true });
    const capture = SnowplowTestingModule.capture(app);
    expect(capture.events().map((e) => e.name)).toEqual(['checkout_completed', 'seats', 'checkout_clicked']);
    capture.expectTracked({ name: 'checkout_clicked' }, { items: 2 }, 1);
    await app.get(EmitterService).drain(1_000);
    await app.close();
    expect(collector.requests).toHaveLength(0);
  });

  it('capture() refuses an app that sends for real', async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [SnowplowModule.forRoot({ collectorUrl: collector.endpoint, appId: 'real', metrics: false })],
    }).compile();
    expect(() => SnowplowTestingModule.capture(moduleRef)).toThrow(/real collector/);
    await moduleRef.close();
  });
});

describe('SnowplowTestingModule.forRoot({ isGlobal })', () => {
  @Injectable()
  class FeatureService {
    constructor(readonly tracker: TrackerService) {}
  }
  /** A feature module that does not import the testing module itself. */
  @Module({ providers: [FeatureService], exports: [FeatureService] })
  class FeatureModule {}

  it('isGlobal: true makes TrackerService injectable in modules that do not import it, and captures their events', async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [SnowplowTestingModule.forRoot({ appId: 'global-shop', isGlobal: true }), FeatureModule],
    }).compile();
    moduleRef.get(FeatureService).tracker.trackEvent('from_feature', { n: 1 });
    const capture = moduleRef.get(SnowplowTestingCapture);
    capture.expectTracked({ name: 'from_feature' }, { n: 1 });
    expect(capture.events()).toHaveLength(1);
    await moduleRef.close();
  });

  it('without isGlobal, such a module cannot inject TrackerService', async () => {
    await expect(
      Test.createTestingModule({
        imports: [SnowplowTestingModule.forRoot({ appId: 'local-shop' }), FeatureModule],
      }).compile(),
    ).rejects.toThrow(/TrackerService/);
  });
});
