// Every event type of the generic track methods, with entities, subjects and timestamps, sent by a
// real emitter to the loopback collector: each payload is decoded there and validated against the
// Snowplow protocol schemas and the test schemas of test/fixtures/iglu (com.acme/checkout, an
// event, and com.acme/cart, an entity), and read back from `GET /micro/good` as a user would.
import { Emitter, TRACKER_VERSION } from '../../lib/core';
import { GoodEvent } from '../../lib/testing/types';
import { BILL, BILLABLE_USAGE, CART, CHECKOUT, goodByEid, useFixtureCollector } from './support/fixture-collector';

const CUSTOM_EVENT = 'iglu:com.gitlab/custom_event/jsonschema/1-0-0';

const suite = useFixtureCollector('events');
const { trackerOf } = suite;
const delivered = (emitter: Emitter, count: number) => goodByEid(suite, emitter, count);

describe('trackSelfDescribingEvent', () => {
  it('sends any Iglu schema as ue_px, with its entities as cx, decoded and valid at the collector', async () => {
    const { tracker, emitter } = trackerOf();
    const { eid } = tracker.trackSelfDescribingEvent(
      { schema: CHECKOUT, data: { orderId: 'o-1', total: 42.5, currency: 'EUR' } },
      { entities: [{ schema: CART, data: { items: 3, coupon: null } }] },
    );
    const event = (await delivered(emitter, 1)).get(eid) as GoodEvent;
    expect(event).toMatchObject({ eventType: 'ue', name: 'checkout', schema: CHECKOUT });
    expect(event.data).toEqual({ orderId: 'o-1', total: 42.5, currency: 'EUR' });
    expect(event.contexts).toEqual([{ schema: CART, data: { items: 3, coupon: null } }]);
    expect(Object.keys(event.raw)).toEqual(expect.arrayContaining(['ue_px', 'cx']));
    expect(event.raw).toMatchObject({ p: 'srv', aid: 'events', tv: TRACKER_VERSION });
  });

  it('the collector holds data that breaks the user schema against it: the schema is really checked', async () => {
    const { tracker, emitter } = trackerOf();
    tracker.trackSelfDescribingEvent({ schema: CHECKOUT, data: { orderId: 'o-2' } });
    await emitter.drain(20_000);
    const bad = suite.collector.bad();
    expect(bad).toHaveLength(1);
    expect(bad[0].errors).toContainEqual(expect.objectContaining({ field: 'ue_px', schema: CHECKOUT }));
  });
});

describe('trackStructEvent and trackPageView', () => {
  it('a structured event: se_ca, se_ac, se_la, se_pr and se_va, empty fields left out', async () => {
    const { tracker, emitter } = trackerOf();
    const full = tracker.trackStructEvent({
      category: 'shop',
      action: 'add-to-basket',
      label: 'sku-1',
      property: 'blue',
      value: 2.5,
    }).eid;
    const bare = tracker.trackStructEvent({ category: 'shop', action: 'view', label: '' }).eid;
    const events = await delivered(emitter, 2);
    expect(events.get(full)).toMatchObject({
      eventType: 'se',
      name: 'add-to-basket',
      raw: { se_ca: 'shop', se_ac: 'add-to-basket', se_la: 'sku-1', se_pr: 'blue', se_va: '2.5' },
    });
    const raw = events.get(bare)?.raw as Record<string, string>;
    expect(raw).toMatchObject({ e: 'se', se_ca: 'shop', se_ac: 'view' });
    expect(Object.keys(raw).filter((key) => key.startsWith('se_'))).toEqual(['se_ca', 'se_ac']);
  });

  it('a page view: url, page and refr', async () => {
    const { tracker, emitter } = trackerOf();
    const { eid } = tracker.trackPageView({
      url: 'https://shop.example/cart?x=1',
      title: 'Your cart',
      referrer: 'https://shop.example/',
    });
    const event = (await delivered(emitter, 1)).get(eid) as GoodEvent;
    expect(event).toMatchObject({
      eventType: 'pv',
      name: 'page_view',
      raw: { url: 'https://shop.example/cart?x=1', page: 'Your cart', refr: 'https://shop.example/' },
    });
    expect(event.contexts).toEqual([]);
  });
});

describe('entities on the labkit methods', () => {
  it('trackEvent attaches entities to the custom_event, which stays as it was', async () => {
    const { tracker, emitter } = trackerOf();
    const withEntity = tracker.trackEvent(
      'checkout_started',
      { step: 1 },
      { entities: [{ schema: CART, data: { items: 2 } }] },
    );
    const plain = tracker.trackEvent('checkout_started', { step: 1 });
    const events = await delivered(emitter, 2);
    expect(events.get(withEntity.eid)).toMatchObject({
      schema: CUSTOM_EVENT,
      name: 'checkout_started',
      props: { step: 1 },
    });
    expect(events.get(withEntity.eid)?.contexts).toEqual([{ schema: CART, data: { items: 2 } }]);
    expect(events.get(plain.eid)?.contexts).toEqual([]);
    expect(events.get(plain.eid)?.raw).not.toHaveProperty('cx');
  });

  it('a billing event keeps billable_usage first, then the caller entities, in order', async () => {
    const { tracker, emitter } = trackerOf();
    const { eid, eventId } = tracker.trackBillingEventWithOptionalInput(
      BILL,
      { projectId: 7 },
      {
        entities: [
          { schema: CART, data: { items: 1 } },
          { schema: CART, data: { items: 2 } },
        ],
      },
    );
    const event = (await delivered(emitter, 1)).get(eid) as GoodEvent;
    expect(event.contexts.map((entity) => entity.schema)).toEqual([BILLABLE_USAGE, CART, CART]);
    expect(event.contexts[0].data).toMatchObject({ event_id: eventId, project_id: 7, quantity: 3 });
    expect(event.contexts.slice(1).map((entity) => entity.data)).toEqual([{ items: 1 }, { items: 2 }]);
    expect(event.raw).toMatchObject({ e: 'se', se_ca: 'ci', se_ac: 'ci_minutes', se_la: eventId, se_va: '3' });
  });
});

describe('subject', () => {
  it("the event's fields win over the tracker's, field by field; the others come from the tracker", async () => {
    const { tracker, emitter } = trackerOf({
      subject: { uid: 'tracker-user', lang: 'de-DE', tz: 'Europe/Berlin', p: 'app', ua: 'Tracker UA/1.0' },
    });
    const own = tracker.trackStructEvent(
      { category: 'c', action: 'a' },
      { subject: { uid: 'event-user', ip: '203.0.113.9', ua: 'Mozilla/5.0 (X11)' } },
    ).eid;
    const defaults = tracker.trackEvent('defaults_only').eid;
    const events = await delivered(emitter, 2);
    expect(events.get(own)?.raw).toMatchObject({
      uid: 'event-user',
      ip: '203.0.113.9',
      ua: 'Mozilla/5.0 (X11)',
      lang: 'de-DE',
      tz: 'Europe/Berlin',
      p: 'app',
      tv: TRACKER_VERSION,
    });
    expect(events.get(defaults)?.raw).toMatchObject({ uid: 'tracker-user', ua: 'Tracker UA/1.0', p: 'app' });
    expect(events.get(defaults)?.raw).not.toHaveProperty('ip');
  });

  it('every subject field goes to its wire key (nuid as tnuid), numbers as text; none without a subject', async () => {
    const { tracker, emitter } = trackerOf();
    const subject = {
      uid: 'u1',
      ip: '2001:db8::1',
      ua: 'curl/8.0',
      duid: 'd-1',
      nuid: 'n-1',
      sid: '3f1e2d4c-5b6a-4798-8a9b-0c1d2e3f4a5b',
      vid: 3,
      lang: 'en-GB',
      tz: 'UTC',
      res: '1920x1080',
      vp: '1280x720',
      cd: 24,
      p: 'web',
    } as const;
    const all = tracker.trackPageView({ url: 'https://a.example/' }, { subject }).eid;
    const none = tracker.trackPageView({ url: 'https://a.example/' }).eid;
    const events = await delivered(emitter, 2);
    expect(events.get(all)?.raw).toMatchObject({
      uid: 'u1',
      ip: '2001:db8::1',
      ua: 'curl/8.0',
      duid: 'd-1',
      tnuid: 'n-1',
      sid: '3f1e2d4c-5b6a-4798-8a9b-0c1d2e3f4a5b',
      vid: '3',
      lang: 'en-GB',
      tz: 'UTC',
      res: '1920x1080',
      vp: '1280x720',
      cd: '24',
      p: 'web',
    });
    const raw = events.get(none)?.raw as Record<string, string>;
    expect(raw.p).toBe('srv');
    expect(raw.ua).toMatch(/^nestjs-snowplow\//);
    for (const key of ['uid', 'ip', 'duid', 'tnuid', 'sid', 'vid', 'lang', 'tz', 'res', 'vp', 'cd']) {
      expect(raw).not.toHaveProperty(key);
    }
  });
});

describe('timestamps', () => {
  it('trueTimestamp is sent as ttm and deviceTimestamp replaces dtm', async () => {
    const { tracker, emitter } = trackerOf();
    const happened = new Date('2026-01-02T03:04:05.678Z');
    const before = Date.now();
    const { eid } = tracker.trackSelfDescribingEvent(
      { schema: CHECKOUT, data: { orderId: 'o-3', total: 1 } },
      { trueTimestamp: happened, deviceTimestamp: 1_700_000_000_123 },
    );
    const plain = tracker.trackStructEvent({ category: 'c', action: 'a' }).eid;
    const events = await delivered(emitter, 2);
    expect(events.get(eid)?.raw).toMatchObject({ ttm: String(happened.getTime()), dtm: '1700000000123' });
    expect(events.get(plain)?.raw).not.toHaveProperty('ttm');
    expect(Number(events.get(plain)?.raw.dtm)).toBeGreaterThanOrEqual(before);
  });
});
