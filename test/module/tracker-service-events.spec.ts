// TrackerService offers the generic track methods and the per-event options, as Tracker does.
import { Test } from '@nestjs/testing';
import { TrackerService } from '../../lib';
import { SnowplowTestingCapture, SnowplowTestingModule } from '../../lib/testing';

const BILL = { category: 'ci', eventType: 'ci_minutes', realm: 'SaaS', unitOfMeasure: 'minute', quantity: 4 } as const;

describe('TrackerService: event types and options', () => {
  let capture: SnowplowTestingCapture;
  let tracker: TrackerService;
  beforeAll(async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [SnowplowTestingModule.forRoot({ appId: 'svc' })],
    }).compile();
    capture = moduleRef.get(SnowplowTestingCapture);
    tracker = moduleRef.get(TrackerService);
  });
  afterEach(() => capture.reset());

  it('tracks structured events and page views, and passes options to every method', () => {
    tracker.trackStructEvent({ category: 'shop', action: 'buy', value: 9.5 }, { subject: { uid: 'u-1' } });
    tracker.trackPageView({ url: 'https://shop.example/', title: 'Shop' }, { trueTimestamp: 1_700_000_000_000 });
    tracker.trackEvent('opened', { n: 1 }, { subject: { lang: 'fr' } });
    tracker.trackBillingEventWithOptionalInput(BILL, undefined, { subject: { uid: 'billed-user' } });
    expect(capture.bad()).toEqual([]);
    expect(capture.events().map((event) => [event.eventType, event.name])).toEqual([
      ['se', 'buy'],
      ['pv', 'page_view'],
      ['ue', 'opened'],
      ['se', 'ci_minutes'],
    ]);
    const [struct, pageView, custom, billing] = capture.events().map((event) => event.raw);
    expect(struct).toMatchObject({ se_ca: 'shop', se_va: '9.5', uid: 'u-1' });
    expect(pageView).toMatchObject({ url: 'https://shop.example/', page: 'Shop', ttm: '1700000000000' });
    expect(custom).toMatchObject({ lang: 'fr' });
    expect(billing).toMatchObject({ uid: 'billed-user' });
    expect(capture.billingEvents()).toEqual([expect.objectContaining({ event_type: 'ci_minutes', quantity: 4 })]);
  });
});
