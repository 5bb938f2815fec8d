// What a tracked payload says about itself must match its text: its size in a request body (which
// the emitter uses to cut batches by bytes and to refuse oversized events), and its base64 fields
// for any length. Also the billing inputs' checked copy and the correlation id hook.
import { InvalidEventError, InvalidOptionError, TrackedPayload, Tracker } from '../../lib/core';
import { checkOptionalInput } from '../../lib/tracker/billing-event';
import { bodyBytes, PER_EVENT_OVERHEAD } from '../../lib/tracker/payload';

const REQUIRED = { category: 'c', eventType: 'seats', realm: 'SM', unitOfMeasure: 'seat', quantity: 2 } as const;

function capture(options: Record<string, unknown> = {}) {
  const payloads: TrackedPayload[] = [];
  const tracker = new Tracker({ appId: 'sizes', emitter: { enqueue: (p) => void payloads.push(p) }, ...options });
  return { tracker, payloads };
}

function decodeField(payload: TrackedPayload, field: 'ue_px' | 'cx'): unknown {
  const value = (JSON.parse(payload.json) as Record<string, string>)[field];
  return JSON.parse(Buffer.from(value, 'base64url').toString('utf8'));
}

describe('payload sizes', () => {
  it('bodyBytes counts UTF-8 bytes plus the stm field and separator added on send', () => {
    expect(PER_EVENT_OVERHEAD).toBe('"stm":"0000000000000",'.length + 1);
    expect(bodyBytes('')).toBe(PER_EVENT_OVERHEAD);
    expect(bodyBytes('a€😀')).toBe(1 + 3 + 4 + PER_EVENT_OVERHEAD);
  });

  it.each([
    ['today', undefined],
    ['a 12-digit time', 999_999_999_999],
    ['a 14-digit time', 10_000_000_000_000],
    ['a 1-digit time', 7],
  ])('a custom event knows its size without encoding, at %s', (_when, now) => {
    const clock = now === undefined ? undefined : jest.spyOn(Date, 'now').mockReturnValue(now);
    try {
      const { tracker, payloads } = capture({ namespace: 'ns', userAgent: 'ua/1' });
      tracker.trackEvent('sized');
      tracker.trackEvent('sized_with_props', { text: 'é€😀'.repeat(50), n: 1, nested: { a: [1, 'b'] } });
      for (const payload of payloads) {
        expect(payload.bytes).toBe(bodyBytes(payload.json));
        if (now !== undefined) expect(JSON.parse(payload.json).dtm).toBe(String(now));
      }
    } finally {
      clock?.mockRestore();
    }
  });

  it('props of any length round-trip through base64, multi-byte text included (past the 64 KB scratch buffer)', () => {
    const { tracker, payloads } = capture();
    for (const size of [10, 21_000, 22_000, 70_000, 200_000]) {
      const props = { text: '€'.repeat(size) };
      tracker.trackEvent('long', props);
      const payload = payloads.at(-1)!;
      expect(decodeField(payload, 'ue_px')).toMatchObject({ data: { data: { name: 'long', props } } });
      expect(payload.bytes).toBe(bodyBytes(payload.json));
    }
  });
});

describe('the checked copy of optional billing input', () => {
  it('none, null and an empty object give an empty copy', () => {
    expect(checkOptionalInput(undefined)).toStrictEqual({});
    expect(checkOptionalInput(null)).toStrictEqual({});
    expect(checkOptionalInput({})).toStrictEqual({});
  });

  it('keeps set fields under their input names, leaves out empty and zero ones, copies arrays, parses metadata', () => {
    const seatIds = ['s1', 's2'];
    const metadata = { toJSON: () => ({ plan: 'gold', n: 1 }) };
    const copy = checkOptionalInput({
      projectId: 7,
      namespaceId: 0,
      instanceId: '',
      hostName: 'h',
      seatIds,
      assignments: [],
      metadata,
    });
    // Strict: a field left out is absent, not present as undefined.
    expect(copy).toStrictEqual({
      projectId: 7,
      hostName: 'h',
      seatIds: ['s1', 's2'],
      metadata: { plan: 'gold', n: 1 },
    });
    expect(copy.seatIds).not.toBe(seatIds);
  });

  it('refuses what trackBillingEventWithOptionalInput refuses, naming the field', () => {
    expect(() => checkOptionalInput('x')).toThrow(InvalidEventError);
    expect(() => checkOptionalInput('x')).toThrow('"optional"');
    expect(() => checkOptionalInput({ projectId: 1.5 })).toThrow('"projectId"');
    expect(() => checkOptionalInput({ metadata: [] })).toThrow('"metadata"');
  });
});

describe('defaultCorrelationId', () => {
  function correlationOf(payload: TrackedPayload): unknown {
    const cx = decodeField(payload, 'cx') as { data: Array<{ data: Record<string, unknown> }> };
    return cx.data[0].data.correlation_id;
  }

  it('gives a billing event without a correlationId of its own the id the hook returns', () => {
    let id: unknown = 'req-1';
    const { tracker, payloads } = capture({ defaultCorrelationId: () => id });
    tracker.trackBillingEvent(REQUIRED);
    tracker.trackBillingEventWithOptionalInput(REQUIRED, { correlationId: 'explicit' });
    tracker.trackBillingEventWithOptionalInput(REQUIRED, { correlationId: '' });
    id = '';
    tracker.trackBillingEvent(REQUIRED);
    id = 42;
    tracker.trackBillingEvent(REQUIRED);
    id = undefined;
    tracker.trackBillingEvent(REQUIRED);
    expect(payloads.map(correlationOf)).toEqual(['req-1', 'explicit', 'req-1', undefined, undefined, undefined]);
  });

  it('leaves custom events alone, and must be a function', () => {
    const { tracker, payloads } = capture({ defaultCorrelationId: () => 'req-2' });
    tracker.trackEvent('plain');
    expect(payloads[0].json).not.toContain('req-2');
    expect(() => capture({ defaultCorrelationId: 'req' })).toThrow(InvalidOptionError);
    expect(() => capture({ defaultCorrelationId: 'req' })).toThrow('"defaultCorrelationId": must be a function');
  });
});
