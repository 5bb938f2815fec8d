import { QueuedEvent, Tracker, TrackedPayload } from '../../lib/core';
import { serialiseBatch } from '../../lib/emitter/batch-body';
import { bodyBytes } from '../../lib/tracker/payload';
import { decodeValidBody } from '../support/decode';

function payloads(): TrackedPayload[] {
  const out: TrackedPayload[] = [];
  const tracker = new Tracker({ appId: 'äpp', emitter: { enqueue: (p) => void out.push(p) } });
  tracker.trackEvent('plain', { a: 1 });
  tracker.trackEvent('ünïcödé', { city: 'Zürich', emoji: '🚀' });
  tracker.trackBillingEvent({ category: 'c', eventType: 'seats', realm: 'SM', unitOfMeasure: 'seat', quantity: 2 });
  return out;
}

const queued = (p: TrackedPayload, bytes = p.bytes ?? bodyBytes(p.json)): QueuedEvent => ({
  kind: p.kind,
  eid: p.eid,
  dtm: p.dtm,
  json: p.json,
  bytes,
  attempts: 0,
});

describe('serialiseBatch', () => {
  it('writes the payload_data envelope with stm on every event, as valid JSON of exactly the summed size', () => {
    const events = payloads().map((p) => queued(p));
    const body = serialiseBatch(events, 1_767_323_045_000);
    const summed = events.reduce((n, e) => n + e.bytes, 0);
    expect(body.length).toBe(
      summed -
        1 +
        Buffer.byteLength('{"schema":"iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4","data":[]}'),
    );
    const decoded = decodeValidBody(body.toString('utf8'));
    expect(decoded.map((e) => e.eid)).toEqual(events.map((e) => e.eid));
    expect(decoded.every((e) => e.raw.stm === '1767323045000')).toBe(true);
  });

  it.each([
    ['understated', -5],
    ['overstated', +7],
  ])('an event whose stored size is %s still gives the whole, valid body', (_case, error) => {
    const events = payloads().map((p, i) => queued(p, i === 1 ? (p.bytes ?? bodyBytes(p.json)) + error : undefined));
    const body = serialiseBatch(events, 1_767_323_045_000);
    expect(decodeValidBody(body.toString('utf8')).map((e) => e.eid)).toEqual(events.map((e) => e.eid));
  });
});

describe('serialiseBatch edges', () => {
  it('an empty batch is the bare envelope', () => {
    expect(serialiseBatch([], 1_767_323_045_000).toString('utf8')).toBe(
      '{"schema":"iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4","data":[]}',
    );
  });

  it('one event: no separator, stm first, then the event fields', () => {
    const json = '{"e":"pv"}';
    const event: QueuedEvent = { kind: 'custom', eid: 'e', dtm: 1, json, bytes: bodyBytes(json), attempts: 0 };
    expect(serialiseBatch([event], 1_767_323_045_000).toString('utf8')).toBe(
      '{"schema":"iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4","data":' +
        '[{"stm":"1767323045000","e":"pv"}]}',
    );
  });

  it('an stm of other than 13 digits is written as it is', () => {
    const events = payloads().map((p) => queued(p));
    const body = serialiseBatch(events, 42);
    const decoded = decodeValidBody(body.toString('utf8'));
    expect(decoded.map((e) => e.eid)).toEqual(events.map((e) => e.eid));
    expect(decoded.every((e) => e.raw.stm === '42')).toBe(true);
  });
});

describe('serialiseBatch of trackEvent events without options (written into the body without their json)', () => {
  const NAMES = ['a', 'ab', 'abc', 'plain', 'ünïcödé', '🚀', 'quote " backslash \\'];
  const PROPS: Array<Record<string, unknown> | null | undefined> = [
    undefined,
    null,
    {},
    { a: 1 },
    { city: 'Zürich', emoji: '🚀', line: '\u2028' },
    { s: 'x'.repeat(5_000) },
    { s: 'é'.repeat(30_000) },
  ];
  const STM = 1_767_323_045_000;
  /** The body as the string path writes it, from each event's `json`. */
  const byJson = (events: ReadonlyArray<{ json: string }>) =>
    Buffer.from(
      '{"schema":"iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4","data":[' +
        events.map((e) => `{"stm":"${STM}",${e.json.slice(1)}`).join(',') +
        ']}',
      'utf8',
    );

  it.each([['app'], ['äpp ✓']])('writes the same bytes as their json, every name and props (appId %s)', (appId) => {
    const events: TrackedPayload[] = [];
    const tracker = new Tracker({ appId, emitter: { enqueue: (p) => void events.push(p) } });
    for (const name of NAMES) for (const props of PROPS) tracker.trackEvent(name, props);
    for (const event of events) {
      expect(event.bytes).toBe(bodyBytes(event.json));
      const body = serialiseBatch([event as QueuedEvent, event as QueuedEvent], STM);
      expect(body.equals(byJson([event, event]))).toBe(true);
    }
    const all = serialiseBatch(events as QueuedEvent[], STM);
    expect(all.equals(byJson(events))).toBe(true);
    expect(decodeValidBody(all.toString('utf8')).map((e) => e.eid)).toEqual(events.map((e) => e.eid));
  });

  it('an stm of 14 digits, one event with one non-ASCII character: the same bytes as its json', () => {
    // As many characters as the sizes say bytes: the one the 14th digit adds, the one ä saves.
    const events: TrackedPayload[] = [];
    const tracker = new Tracker({ appId: 'äpp', emitter: { enqueue: (p) => void events.push(p) } });
    tracker.trackEvent('n', { c: 1 });
    const stm = 10_000_000_000_000;
    const want = Buffer.from(
      '{"schema":"iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4","data":[' +
        `{"stm":"${stm}",${events[0].json.slice(1)}]}`,
      'utf8',
    );
    expect(serialiseBatch(events as QueuedEvent[], stm).equals(want)).toBe(true);
  });

  it('mixed with other events, and with an stm of other than 13 digits', () => {
    // The custom events as the tracker hands them over; the billing one as a store holds it.
    const events = payloads().map((p) => (p.bytes === undefined ? queued(p) : (p as QueuedEvent)));
    const body = serialiseBatch(events, 42);
    expect(decodeValidBody(body.toString('utf8')).map((e) => e.raw.stm)).toEqual(events.map(() => '42'));
    expect(serialiseBatch(events, STM).equals(byJson(events))).toBe(true);
  });
});
