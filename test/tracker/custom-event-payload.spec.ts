import { Tracker, TrackedPayload } from '../../lib/core';
import { PER_EVENT_OVERHEAD } from '../../lib/tracker/payload';
import { decodeEvent } from '../../lib/testing';

/** The payloads a tracker hands its sink, kept as they are. */
function capture(options: { appId?: string; namespace?: string; userAgent?: string } = {}) {
  const payloads: TrackedPayload[] = [];
  const tracker = new Tracker({ appId: 'app', ...options, emitter: { enqueue: (p) => void payloads.push(p) } });
  return { tracker, payloads };
}

describe('a custom event waits as its parts and writes its payload when read', () => {
  it.each([
    ['ASCII props', 'clicked', { plan: 'premium', seats: 3 }, {}],
    ['no props', 'clicked', undefined, {}],
    ['null props', 'clicked', null, {}],
    ['non-ASCII props and name', 'geklickt-✓', { city: 'Zürich', emoji: '🚀', cjk: '東京' }, {}],
    [
      'a non-ASCII app id, namespace and user agent',
      'x',
      { a: 1 },
      { appId: 'äpp', namespace: 'ñs', userAgent: 'ü/1' },
    ],
    ['nested and escaped props', 'x', { quote: '"', backslash: '\\', newline: '\n', list: [1, { b: null }] }, {}],
  ])(
    'its bytes, known without encoding, are exactly the body bytes of its payload (%s)',
    (_name, name, props, options) => {
      const { tracker, payloads } = capture(options);
      tracker.trackEvent(name, props as Record<string, unknown> | null | undefined);
      const [payload] = payloads;
      expect(payload.bytes).toBe(Buffer.byteLength(payload.json, 'utf8') + PER_EVENT_OVERHEAD);
      const decoded = decodeEvent(JSON.parse(payload.json));
      expect(decoded.ok).toBe(true);
    },
  );

  it('the props are taken when tracked: changing the object afterwards changes nothing that is sent', () => {
    const { tracker, payloads } = capture();
    const props = { plan: 'premium', nested: { seats: 3 } };
    tracker.trackEvent('snapshot', props);
    props.plan = 'free';
    props.nested.seats = 99;
    const decoded = decodeEvent(JSON.parse(payloads[0].json));
    expect(decoded.ok && decoded.event.props).toEqual({ plan: 'premium', nested: { seats: 3 } });
  });

  it('reading the payload twice gives the same text', () => {
    const { tracker, payloads } = capture();
    tracker.trackEvent('twice', { a: 1 });
    expect(payloads[0].json).toBe(payloads[0].json);
    expect(JSON.parse(payloads[0].json)).toMatchObject({ e: 'ue', eid: payloads[0].eid, dtm: String(payloads[0].dtm) });
  });
});
