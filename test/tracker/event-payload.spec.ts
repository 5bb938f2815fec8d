// Every event but a billing one (and trackEvent's without options, a CustomEventPayload) waits in
// the queue as its parts: what it carries is taken when it is tracked, and its wire form, with the
// base64 ue_px and cx, is written only when it is read (sent, or written to a durable store). Its
// size in a request body is known without writing it.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Emitter, TrackedPayload, Tracker, TrackerOptions } from '../../lib/core';
import { GoodEvent } from '../../lib/testing/types';
import { PER_EVENT_OVERHEAD } from '../../lib/tracker/payload';
import { CART, CHECKOUT, goodByEid, useFixtureCollector } from './support/fixture-collector';

const suite = useFixtureCollector('late');

/** A tracker whose sink keeps the payloads it is handed, as they are. */
function capture(options: Partial<TrackerOptions> = {}) {
  const payloads: TrackedPayload[] = [];
  const tracker = new Tracker({ appId: 'late', ...options, emitter: { enqueue: (p) => void payloads.push(p) } });
  return { tracker, payloads };
}

type Track = (tracker: Tracker) => unknown;

const CASES: Array<[string, Partial<TrackerOptions>, Track]> = [
  [
    'a self-describing event',
    {},
    (t) => t.trackSelfDescribingEvent({ schema: CHECKOUT, data: { orderId: 'o', total: 1 } }),
  ],
  [
    'a self-describing event with non-ASCII data and two entities',
    {},
    (t) =>
      t.trackSelfDescribingEvent(
        { schema: CHECKOUT, data: { orderId: 'Zürich-✓', total: 42.5 } },
        {
          entities: [
            { schema: CART, data: { items: 3, coupon: '🚀東京' } },
            { schema: CART, data: { items: 0, coupon: 'quote " backslash \\ newline \n' } },
          ],
        },
      ),
  ],
  [
    'a structured event with escapes and non-ASCII fields',
    {},
    (t) => t.trackStructEvent({ category: 'cä', action: 'a "q" \\', label: 'é\n', property: '東京', value: 1.25 }),
  ],
  [
    'a page view with a title and a referrer',
    {},
    (t) => t.trackPageView({ url: 'https://a.example/ä?q="x"', title: 'Tïtle ✓', referrer: 'https://r.example/' }),
  ],
  [
    'a subject with p, a non-ASCII ua and other fields',
    {},
    (t) =>
      t.trackStructEvent(
        { category: 'c', action: 'a' },
        {
          subject: {
            p: 'web',
            ua: 'Mozilla/5.0 ✓ "x"',
            uid: 'ü"\\',
            ip: '10.0.0.1',
            vid: 3,
            lang: 'de-CH',
            res: '1x2',
          },
        },
      ),
  ],
  ['the ua alone', {}, (t) => t.trackPageView({ url: 'https://a.example/' }, { subject: { ua: 'ä' } })],
  [
    "the tracker's subject under the event's",
    { subject: { uid: 'tracker', tz: 'Europe/Zürich', p: 'app' } },
    (t) => t.trackPageView({ url: 'https://a.example/' }, { subject: { lang: 'fr', uid: 'event' } }),
  ],
  [
    'a context subject',
    { contextSubject: () => ({ uid: 'ctx-ü', ip: '203.0.113.9' }) },
    (t) => t.trackSelfDescribingEvent({ schema: CHECKOUT, data: { orderId: 'o', total: 1 } }),
  ],
  [
    'a true and a device timestamp',
    {},
    (t) =>
      t.trackStructEvent(
        { category: 'c', action: 'a' },
        { trueTimestamp: 1_700_000_000_123, deviceTimestamp: new Date(999_999_999_999) },
      ),
  ],
  [
    'trackEvent with options',
    {},
    (t) => t.trackEvent('clicked', { a: 'é' }, { entities: [{ schema: CART, data: { items: 1 } }] }),
  ],
  [
    'a global entity, and a non-ASCII app id, namespace and user agent',
    { appId: 'äpp', namespace: 'ñs', userAgent: 'ü/1', entities: [{ schema: CART, data: { items: 2, coupon: 'ß' } }] },
    (t) => t.trackStructEvent({ category: 'c', action: 'a' }),
  ],
];

describe('an event waits as its parts and writes its wire form when read', () => {
  it.each(CASES)(
    'its bytes, known without encoding, are exactly the body bytes of its payload (%s)',
    (_, options, track) => {
      const { tracker, payloads } = capture(options);
      track(tracker);
      const [payload] = payloads;
      expect(payload.bytes).toBe(Buffer.byteLength(payload.json, 'utf8') + PER_EVENT_OVERHEAD);
      expect(JSON.parse(payload.json)).toMatchObject({ eid: payload.eid });
    },
  );

  it('the queued entry holds its parts, not its wire form; reading the wire form twice gives the same text', () => {
    const { tracker, payloads } = capture();
    tracker.trackSelfDescribingEvent(
      { schema: CHECKOUT, data: { orderId: 'o-1', total: 1 } },
      { entities: [{ schema: CART, data: { items: 1 } }] },
    );
    const [payload] = payloads;
    const { ue_px: uePx, cx } = JSON.parse(payload.json) as Record<string, string>;
    const own = Object.values(payload).filter((value): value is string => typeof value === 'string');
    expect(own.some((text) => text.includes(uePx) || text.includes(cx) || text.startsWith('{"e":'))).toBe(false);
    expect(payload.json).toBe(payload.json);
  });

  it('what it carries is taken when tracked: changing the data, entities or subjects afterwards changes nothing sent', async () => {
    const context = { uid: 'ctx-user' };
    const { tracker, emitter } = suite.trackerOf({ contextSubject: () => context });
    const data = { orderId: 'o-1', total: 42.5 };
    const entity = { schema: CART, data: { items: 3, coupon: 'A' } };
    const subject = { ip: '203.0.113.9' };
    const { eid } = tracker.trackSelfDescribingEvent({ schema: CHECKOUT, data }, { entities: [entity], subject });
    data.orderId = 'changed';
    entity.data.items = 99;
    entity.schema = 'iglu:com.acme/other/jsonschema/1-0-0';
    subject.ip = '198.51.100.1';
    context.uid = 'changed';
    const event = (await goodByEid(suite, emitter, 1)).get(eid) as GoodEvent;
    expect(event.data).toEqual({ orderId: 'o-1', total: 42.5 });
    expect(event.contexts).toEqual([{ schema: CART, data: { items: 3, coupon: 'A' } }]);
    expect(event.raw).toMatchObject({ uid: 'ctx-user', ip: '203.0.113.9' });
  });

  it('a durable store keeps its wire form: another emitter on the same file sends it whole', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'event-payload-'));
    try {
      const path = join(dir, 'outbox.db');
      const first = suite.stopAfter(
        new Emitter({ collectorUrl: 'http://127.0.0.1:9/tp2', storage: { type: 'sqlite', path } }),
      );
      const tracker = new Tracker({ appId: 'late', emitter: first, subject: { uid: 'u-ü' } });
      const { eid, committed } = tracker.trackStructEvent(
        { category: 'c', action: 'a', label: 'é' },
        { entities: [{ schema: CART, data: { items: 2 } }], trueTimestamp: 1_700_000_000_000 },
      );
      expect(await committed).toEqual({ durable: true });
      await first.stop();
      const second = suite.stopAfter(
        new Emitter({ collectorUrl: suite.collector.endpoint, lingerMs: 0, storage: { type: 'sqlite', path } }),
      );
      const event = (await goodByEid(suite, second, 1)).get(eid) as GoodEvent;
      expect(event.contexts).toEqual([{ schema: CART, data: { items: 2 } }]);
      expect(event.raw).toMatchObject({
        e: 'se',
        se_ca: 'c',
        se_ac: 'a',
        se_la: 'é',
        uid: 'u-ü',
        ttm: '1700000000000',
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
