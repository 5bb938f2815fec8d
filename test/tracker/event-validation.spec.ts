// Bad input to the generic track methods and to the options of every track method: a typed error
// naming the field, thrown at track time, and nothing queued.
import {
  InvalidEventError,
  InvalidOptionError,
  PROTOCOL_LIMITS,
  SnowplowError,
  TrackedPayload,
  Tracker,
} from '../../lib/core';

const CHECKOUT = 'iglu:com.acme/checkout/jsonschema/1-0-0';
const CART = 'iglu:com.acme/cart/jsonschema/1-0-0';
const BILL = { category: 'ci', eventType: 'ci_minutes', realm: 'SaaS', unitOfMeasure: 'minute', quantity: 1 } as const;

function setup() {
  const queued: TrackedPayload[] = [];
  const tracker = new Tracker({ appId: 'app', emitter: { enqueue: (payload) => void queued.push(payload) } });
  return { queued, tracker };
}

/** What `fn` threw: an InvalidEventError (code INVALID_EVENT) naming `field`, with nothing queued. */
function expectRefused(fn: (tracker: Tracker) => unknown, field: string, reason?: RegExp): void {
  const { queued, tracker } = setup();
  let caught: unknown;
  try {
    fn(tracker);
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(InvalidEventError);
  expect(caught).toBeInstanceOf(SnowplowError);
  const error = caught as InvalidEventError;
  expect(error.code).toBe('INVALID_EVENT');
  expect(error.field).toBe(field);
  expect(error.message).toContain(`"${field}"`);
  if (reason) expect(error.reason).toMatch(reason);
  expect(queued).toEqual([]);
}

/** Loosely typed calls: what plain JavaScript or an `any` can pass. */
type Loose = Record<string, (...args: unknown[]) => unknown>;
const loose = (tracker: Tracker) => tracker as unknown as Loose;

describe('self-describing events', () => {
  it.each([
    ['no iglu: prefix', 'com.acme/checkout/jsonschema/1-0-0'],
    ['a version of two parts', 'iglu:com.acme/checkout/jsonschema/1-0'],
    ['no format', 'iglu:com.acme/checkout/1-0-0'],
    ['a space in the name', 'iglu:com.acme/check out/jsonschema/1-0-0'],
    ['model 0', 'iglu:com.acme/checkout/jsonschema/0-0-0'],
  ])('refuses a malformed Iglu URI (%s), naming schema', (_case, schema) => {
    expectRefused((t) => t.trackSelfDescribingEvent({ schema, data: { orderId: 'o' } }), 'schema', /Iglu URI/);
  });

  it('refuses a schema that is not a string', () => {
    expectRefused((t) => loose(t).trackSelfDescribingEvent({ schema: 42, data: {} }), 'schema', /got number/);
  });

  it.each([
    ['an array', [1, 2], /got an array/],
    ['a string', 'text', /got string/],
    ['null', null, /is required/],
    ['a class instance', new Map(), /instance of Map/],
    ['an object whose toJSON gives an array', { toJSON: () => [1] }, /gives an array/],
    [
      'a circular object',
      (() => {
        const o: Record<string, unknown> = {};
        o.self = o;
        return o;
      })(),
      /circular/,
    ],
  ])('refuses data that is not a JSON object (%s), naming data', (_case, data, reason) => {
    expectRefused((t) => loose(t).trackSelfDescribingEvent({ schema: CHECKOUT, data }), 'data', reason);
  });

  it('refuses an event that is not an object', () => {
    expectRefused((t) => loose(t).trackSelfDescribingEvent('iglu:x'), 'event');
  });
});

describe('structured events and page views', () => {
  it.each([
    ['Infinity', Infinity],
    ['-Infinity', -Infinity],
    ['NaN', NaN],
  ])('refuses a non-finite value (%s), naming value', (_case, value) => {
    expectRefused((t) => t.trackStructEvent({ category: 'c', action: 'a', value }), 'value', /finite/);
  });

  it('refuses a value that is not a number, and a missing or empty category or action', () => {
    expectRefused((t) => loose(t).trackStructEvent({ category: 'c', action: 'a', value: '3' }), 'value', /number/);
    expectRefused((t) => loose(t).trackStructEvent({ action: 'a' }), 'category', /required/);
    expectRefused((t) => t.trackStructEvent({ category: 'c', action: '  ' }), 'action', /empty/);
  });

  it.each([
    ['category', PROTOCOL_LIMITS.se_ca],
    ['action', PROTOCOL_LIMITS.se_ac],
    ['label', PROTOCOL_LIMITS.se_la],
    ['property', PROTOCOL_LIMITS.se_pr],
  ])('refuses a %s past its column width (%i characters), and takes one at the width', (field, limit) => {
    const event = { category: 'c', action: 'a' };
    expectRefused(
      (t) => t.trackStructEvent({ ...event, [field]: 'x'.repeat(limit + 1) }),
      field,
      new RegExp(`at most ${limit}`),
    );
    const { queued, tracker } = setup();
    tracker.trackStructEvent({ ...event, [field]: 'x'.repeat(limit) });
    expect(queued).toHaveLength(1);
  });

  it.each([
    ['url', PROTOCOL_LIMITS.url],
    ['title', PROTOCOL_LIMITS.page],
    ['referrer', PROTOCOL_LIMITS.refr],
  ])('refuses a page view %s past its column width (%i characters)', (field, limit) => {
    expectRefused(
      (t) => t.trackPageView({ url: 'https://a.example/', [field]: 'x'.repeat(limit + 1) }),
      field,
      new RegExp(`at most ${limit}`),
    );
  });

  it('refuses a page view without a url', () => {
    expectRefused((t) => loose(t).trackPageView({ title: 'T' }), 'url', /required/);
  });
});

describe('entities', () => {
  const data = { orderId: 'o', total: 1 };
  it.each([
    ['without schema', [{ data: { items: 1 } }], 'options.entities[0].schema'],
    ['without data', [{ schema: CART }], 'options.entities[0].data'],
    ['with a malformed schema', [{ schema: 'iglu:cart', data: {} }], 'options.entities[0].schema'],
    ['whose data is an array', [{ schema: CART, data: [] }], 'options.entities[0].data'],
    ['not an object', [{ schema: CART, data: {} }, 'cart'], 'options.entities[1]'],
    ['in a list that is no array', { schema: CART, data: {} }, 'options.entities'],
  ])('refuses an entity %s, naming it', (_case, entities, field) => {
    expectRefused((t) => t.trackSelfDescribingEvent({ schema: CHECKOUT, data }, { entities } as never), field);
  });

  it('names the entity at fault among several, on the labkit methods too', () => {
    const entities = [
      { schema: CART, data: { items: 1 } },
      { schema: 'iglu:com.acme/cart/jsonschema/1', data: {} },
    ];
    expectRefused((t) => t.trackEvent('e', {}, { entities }), 'options.entities[1].schema', /Iglu URI/);
    expectRefused(
      (t) => t.trackBillingEventWithOptionalInput(BILL, undefined, { entities }),
      'options.entities[1].schema',
    );
    expectRefused(
      (t) => t.trackStructEvent({ category: 'c', action: 'a' }, { entities }),
      'options.entities[1].schema',
    );
    expectRefused((t) => t.trackPageView({ url: 'https://a.example/' }, { entities }), 'options.entities[1].schema');
  });

  it('refuses a hole in the list', () => {
    // eslint-disable-next-line no-sparse-arrays
    const entities = [{ schema: CART, data: {} }, , { schema: CART, data: {} }];
    expectRefused((t) => t.trackEvent('e', {}, { entities } as never), 'options.entities[1]', /hole/);
  });
});

describe('subject', () => {
  it.each([
    ['uid', 42, /must be a string, got number/],
    ['ip', { v4: '1.2.3.4' }, /must be a string/],
    ['ua', 'u'.repeat(PROTOCOL_LIMITS.ua + 1), /at most 1000/],
    ['uid', 'u'.repeat(PROTOCOL_LIMITS.uid + 1), /at most 255/],
    ['vid', 1.5, /integer from 0 to 32767/],
    ['vid', 40_000, /integer from 0 to 32767/],
    ['vid', '3', /integer/],
    ['cd', -1, /integer/],
    ['res', '1920*1080', /WIDTHxHEIGHT/],
    ['vp', 1920, /must be a string/],
    ['p', 'desktop', /one of web, mob, pc, srv/],
    ['userId', 'u-1', /not a subject field/],
  ])('refuses subject.%s = %p, naming options.subject.<field>', (field, value, reason) => {
    expectRefused(
      (t) => t.trackPageView({ url: 'https://a.example/' }, { subject: { [field]: value } as never }),
      `options.subject.${field}`,
      reason,
    );
  });

  it("refuses a tracker's subject at construction with InvalidOptionError naming subject.<field>", () => {
    const construct = () =>
      new Tracker({ appId: 'a', emitter: { enqueue: () => undefined }, subject: { ip: 7 } as never });
    expect(construct).toThrow(InvalidOptionError);
    expect(construct).toThrow(expect.objectContaining({ option: 'subject.ip', code: 'INVALID_OPTION' }));
  });
});

describe('timestamps and other options', () => {
  it.each([
    ['trueTimestamp', 'yesterday'],
    ['trueTimestamp', new Date('not a date')],
    ['deviceTimestamp', 1.5],
    ['deviceTimestamp', -1],
    ['deviceTimestamp', 253402300800000],
  ])('refuses %s = %p', (field, value) => {
    expectRefused(
      (t) => t.trackStructEvent({ category: 'c', action: 'a' }, { [field]: value } as never),
      `options.${field}`,
      /milliseconds since the epoch/,
    );
  });

  it('refuses an unknown option (a typo would otherwise send nothing) and options that are no object', () => {
    expectRefused((t) => t.trackEvent('e', {}, { entites: [] } as never), 'options.entites', /not an option/);
    expectRefused((t) => t.trackEvent('e', {}, 'fast' as never), 'options');
    expectRefused(
      (t) => t.trackBillingEventWithOptionalInput(BILL, undefined, { whenNotCommitted: 'later' } as never),
      'options.whenNotCommitted',
    );
  });
});

describe('what the errors of options and subjects list', () => {
  const reason = (fn: (tracker: Tracker) => unknown): string => {
    const { tracker } = setup();
    try {
      fn(tracker);
    } catch (err) {
      return (err as InvalidEventError).reason;
    }
    throw new Error('nothing was refused');
  };

  it('an unknown subject field: every subject field, in order', () => {
    expect(reason((t) => t.trackEvent('e', {}, { subject: { userId: 'u' } as never }))).toBe(
      'is not a subject field (p, ua, uid, ip, duid, nuid, sid, vid, lang, tz, res, vp, cd)',
    );
  });

  it("an unknown option of a billing event: the method's own options too", () => {
    expect(
      reason((t) => t.trackBillingEventWithOptionalInput(BILL, undefined, { whenNotComitted: 'hold' } as never)),
    ).toBe('is not an option (entities, subject, trueTimestamp, deviceTimestamp, whenNotCommitted)');
    // A billing option is no option of the other methods.
    expect(reason((t) => t.trackEvent('e', {}, { whenNotCommitted: 'hold' } as never))).toBe(
      'is not an option (entities, subject, trueTimestamp, deviceTimestamp)',
    );
  });

  it('entities that are no array, a hole, and a subject that is no object', () => {
    expect(reason((t) => t.trackEvent('e', {}, { entities: { schema: CART, data: {} } } as never))).toBe(
      'must be an array of {schema, data}, got an object',
    );
    // eslint-disable-next-line no-sparse-arrays
    expect(reason((t) => t.trackEvent('e', {}, { entities: [, { schema: CART, data: {} }] } as never))).toBe(
      'is a hole: every entity needs a schema and data',
    );
    expect(() => setup().tracker.trackEvent('e', {}, { subject: 'u-1' } as never)).toThrow(
      expect.objectContaining({ field: 'options.subject' }),
    );
  });
});
