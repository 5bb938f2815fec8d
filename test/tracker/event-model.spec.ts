// The event model seam: every track method builds one TrackerEvent (lane, data, entities, subject,
// timestamps) and its wire form is written from it. The lane is set by the method, never taken
// from the event's type; the labkit methods' wire form is what it was.
import { TrackedPayload, Tracker } from '../../lib/core';
import { CustomEventPayload, customEvent } from '../../lib/tracker/custom-event';
import { encodeEvent } from '../../lib/tracker/event';
import { PayloadWriter } from '../../lib/tracker/payload';

const BILL = { category: 'ci', eventType: 'ci_minutes', realm: 'SaaS', unitOfMeasure: 'minute', quantity: 2 } as const;
const CART = 'iglu:com.acme/cart/jsonschema/1-0-0';

function setup(options: { subject?: Record<string, unknown>; userAgent?: string } = {}) {
  const queued: TrackedPayload[] = [];
  const tracker = new Tracker({
    appId: 'model',
    emitter: { enqueue: (payload) => void queued.push(payload) },
    ...options,
  });
  const last = () => queued[queued.length - 1];
  const fields = () => JSON.parse(last().json) as Record<string, string>;
  return { queued, tracker, last, fields };
}

describe('the event model', () => {
  it('a queued custom event is a TrackerEvent: encodeEvent writes exactly the payload it writes lazily', () => {
    const writer = new PayloadWriter({ appId: 'a', namespace: 'n', userAgent: 'ua/1', trackerVersion: 'tv-1' });
    const eid = '0e0f6d1e-8f55-4c0e-9a77-6c1a5a0d7b11';
    for (const props of [undefined, { n: 1, text: 'é ✓' }]) {
      const payload = customEvent(writer, eid, 1_700_000_000_000, 'model_event', props);
      expect(payload).toBeInstanceOf(CustomEventPayload);
      expect(payload).toMatchObject({ lane: 'custom', trackedAt: 1_700_000_000_000, entities: [], subject: undefined });
      expect(encodeEvent(writer, payload)).toBe(payload.json);
    }
  });

  it('trackEvent with options that add nothing sends what it sends without them; with a subject it is built like any event', () => {
    const { tracker, queued } = setup();
    tracker.trackEvent('same', { a: 1 });
    tracker.trackEvent('same', { a: 1 }, {});
    tracker.trackEvent('same', { a: 1 }, { subject: { uid: 'u' } });
    const [lazy, built, withSubject] = queued.map((p) => {
      const { eid: _eid, dtm: _dtm, ...rest } = JSON.parse(p.json) as Record<string, string>;
      return rest;
    });
    expect(built).toEqual(lazy);
    expect(withSubject).toEqual({ ...lazy, uid: 'u' });
    expect(queued.map((p) => p.kind)).toEqual(['custom', 'custom', 'custom']);
  });

  it('the lane comes from the method: a structured event is custom, a billing event billing, with any entities', () => {
    const { tracker, queued } = setup();
    tracker.trackStructEvent({ category: 'ci', action: 'ci_minutes', label: 'x', value: 2 });
    tracker.trackStructEvent({ category: 'c', action: 'a' }, { entities: [{ schema: CART, data: { items: 1 } }] });
    tracker.trackBillingEvent(BILL);
    tracker.trackBillingEventWithOptionalInput(BILL, undefined, { entities: [{ schema: CART, data: { items: 1 } }] });
    tracker.trackPageView({ url: 'https://a.example/' });
    tracker.trackSelfDescribingEvent({ schema: CART, data: { items: 1 } });
    expect(queued.map((p) => [JSON.parse(p.json).e, p.kind])).toEqual([
      ['se', 'custom'],
      ['se', 'custom'],
      ['se', 'billing'],
      ['se', 'billing'],
      ['pv', 'custom'],
      ['ue', 'custom'],
    ]);
  });

  it("a billing event's wire form keeps its fields and their order; options add cx entities and subject fields after", () => {
    const { tracker, fields } = setup();
    tracker.trackBillingEvent(BILL);
    const plain = Object.keys(fields());
    expect(plain).toEqual(['e', 'eid', 'dtm', 'p', 'tna', 'aid', 'tv', 'ua', 'se_ca', 'se_ac', 'se_la', 'se_va', 'cx']);
    tracker.trackBillingEventWithOptionalInput(BILL, undefined, { subject: { uid: 'u', p: 'web' }, trueTimestamp: 5 });
    expect(Object.keys(fields())).toEqual([...plain, 'ttm', 'uid']);
    expect(fields()).toMatchObject({ p: 'web', uid: 'u', ttm: '5' });
  });

  it('deviceTimestamp is the dtm sent; the queued event keeps its track time, from which its age counts', () => {
    const { tracker, last, fields } = setup();
    const before = Date.now();
    tracker.trackPageView({ url: 'https://a.example/' }, { deviceTimestamp: new Date(1_000_000_000_000) });
    expect(fields().dtm).toBe('1000000000000');
    expect(last().dtm).toBeGreaterThanOrEqual(before);
    expect(last().dtm).toBeLessThanOrEqual(Date.now());
  });

  it("a subject's ua and p replace the tracker's for that event only; tv keeps the tracker's identity", () => {
    const { tracker, queued } = setup({ userAgent: 'lib-agent/1' });
    tracker.trackPageView({ url: 'https://a.example/' }, { subject: { ua: 'Mozilla/5.0', p: 'mob' } });
    tracker.trackPageView({ url: 'https://a.example/' });
    const [own, plain] = queued.map((p) => JSON.parse(p.json) as Record<string, string>);
    expect(own).toMatchObject({ ua: 'Mozilla/5.0', p: 'mob' });
    expect(plain).toMatchObject({ ua: 'lib-agent/1', p: 'srv' });
    expect(own.tv).toBe(plain.tv);
  });

  it("subject precedence: the event's fields over the context's (contextSubject, called per call) over the tracker's", () => {
    const queued: TrackedPayload[] = [];
    let context: Record<string, unknown> | undefined = { uid: 'request-user', tz: 'UTC', ip: '198.51.100.1' };
    const tracker = new Tracker({
      appId: 'model',
      emitter: { enqueue: (payload) => void queued.push(payload) },
      subject: { uid: 'tracker-user', lang: 'de', tz: 'Europe/Berlin' },
      contextSubject: () => context,
    });
    tracker.trackEvent('a', {}, { subject: { tz: 'Asia/Tokyo' } });
    tracker.trackBillingEvent(BILL);
    context = undefined;
    tracker.trackEvent('b');
    context = { vid: 'one' };
    expect(() => tracker.trackEvent('c')).toThrow(expect.objectContaining({ field: 'contextSubject.vid' }));
    const [own, billing, none] = queued.map((p) => JSON.parse(p.json) as Record<string, string>);
    expect(own).toMatchObject({ uid: 'request-user', lang: 'de', tz: 'Asia/Tokyo', ip: '198.51.100.1' });
    expect(billing).toMatchObject({ uid: 'request-user', lang: 'de', tz: 'UTC', ip: '198.51.100.1' });
    expect(none).toMatchObject({ uid: 'tracker-user', lang: 'de', tz: 'Europe/Berlin' });
    expect(none).not.toHaveProperty('ip');
    expect(queued).toHaveLength(3);
  });
});

describe('track options that add nothing, and each addition alone', () => {
  const wire = (json: string) => {
    const { eid: _eid, dtm: _dtm, stm: _stm, ...rest } = JSON.parse(json) as Record<string, string>;
    return rest;
  };

  it('null options, null or empty parts and unset subject fields send what no options send', () => {
    const { tracker, queued } = setup();
    tracker.trackStructEvent({ category: 'c', action: 'a' });
    for (const options of [
      null,
      {},
      { entities: null, subject: null, trueTimestamp: undefined, deviceTimestamp: undefined },
      { entities: [] },
      { subject: {} },
      { subject: { uid: undefined, vid: undefined } },
    ]) {
      tracker.trackStructEvent({ category: 'c', action: 'a' }, options as never);
    }
    const [plain, ...others] = queued.map((p) => wire(p.json));
    expect(others).toEqual(others.map(() => plain));
    expect(plain).not.toHaveProperty('cx');
  });

  it('trueTimestamp alone, deviceTimestamp alone, one entity alone, one subject field alone: each is sent', () => {
    const { tracker, queued } = setup();
    const at = (options: object) => {
      tracker.trackStructEvent({ category: 'c', action: 'a' }, options);
      return JSON.parse(queued[queued.length - 1].json) as Record<string, string>;
    };
    expect(at({ trueTimestamp: 1_600_000_000_000 })).toMatchObject({ ttm: '1600000000000' });
    expect(at({ deviceTimestamp: 1_600_000_000_001 })).toMatchObject({ dtm: '1600000000001' });
    expect(at({ entities: [{ schema: CART, data: { items: 1 } }] })).toHaveProperty('cx');
    expect(at({ subject: { cd: 24 } })).toMatchObject({ cd: '24' });
  });

  it("the tracker's subject alone, with null, empty or no options; a null or empty tracker subject adds nothing", () => {
    const { tracker, queued } = setup({ subject: { uid: 'tracker-user' } });
    tracker.trackStructEvent({ category: 'c', action: 'a' });
    tracker.trackStructEvent({ category: 'c', action: 'a' }, null as never);
    tracker.trackStructEvent({ category: 'c', action: 'a' }, {});
    tracker.trackBillingEvent(BILL);
    expect(queued.map((p) => (JSON.parse(p.json) as Record<string, string>).uid)).toEqual([
      'tracker-user',
      'tracker-user',
      'tracker-user',
      'tracker-user',
    ]);
    const sent: string[] = [];
    for (const subject of [undefined, null, {}, { uid: undefined }]) {
      const bare = setup({ subject: subject as never });
      bare.tracker.trackStructEvent({ category: 'c', action: 'a' });
      sent.push(JSON.stringify(wire(bare.last().json)));
    }
    expect(new Set(sent).size).toBe(1);
  });
});
