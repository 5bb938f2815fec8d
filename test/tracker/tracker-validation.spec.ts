import {
  BillingEventOptionalInput,
  BillingEventRequiredInput,
  Emitter,
  EmitterStoppedError,
  EventTooLargeError,
  InvalidEventError,
  InvalidOptionError,
  Tracker,
  TrackedPayload,
} from '../../lib/core';

/** An emitter that is never started: validation failures must leave its queue empty. */
function setup() {
  const emitter = new Emitter({ collectorUrl: 'http://127.0.0.1:9/com.snowplowanalytics.snowplow/tp2' });
  const tracker = new Tracker({ appId: 'app', emitter });
  return { emitter, tracker };
}

const required: BillingEventRequiredInput = {
  category: 'billing',
  eventType: 'ci_minutes',
  realm: 'SaaS',
  unitOfMeasure: 'minute',
  quantity: 1.5,
};

function expectFieldError(fn: () => unknown, field: string, message?: RegExp) {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(InvalidEventError);
  expect((caught as InvalidEventError).field).toBe(field);
  expect((caught as Error).message).toContain(`"${field}"`);
  if (message) expect((caught as Error).message).toMatch(message);
}

describe('Tracker construction', () => {
  const emitter = { enqueue: () => undefined };
  it.each([
    ['missing appId', { emitter }, 'appId'],
    ['empty appId', { appId: '', emitter }, 'appId'],
    ['whitespace appId', { appId: '  ', emitter }, 'appId'],
    ['non-string appId', { appId: 42, emitter }, 'appId'],
    ['missing emitter', { appId: 'app' }, 'emitter'],
    ['emitter without enqueue', { appId: 'app', emitter: {} }, 'emitter'],
    ['non-string namespace', { appId: 'app', emitter, namespace: 1 }, 'namespace'],
    ['non-string userAgent', { appId: 'app', emitter, userAgent: {} }, 'userAgent'],
  ])('%s is a typed error naming the option', (_case, options, option) => {
    expect(() => new Tracker(options as never)).toThrow(InvalidOptionError);
    expect(() => new Tracker(options as never)).toThrow(`"${option}"`);
  });

  it.each([
    [null, 'Invalid Snowplow option "options": must be an object'],
    ['app', 'Invalid Snowplow option "options": must be an object'],
    [{ appId: 'app' }, 'Invalid Snowplow option "emitter": is required (an Emitter or an object with enqueue)'],
    [{ appId: 'app', emitter, namespace: 1 }, 'Invalid Snowplow option "namespace": must be a string'],
  ])('%p is refused with the message %p', (options, message) => {
    expect(() => new Tracker(options as never)).toThrow(message);
  });
});

describe('what the tracker hands its emitter', () => {
  const required = { category: 'c', eventType: 'seats', realm: 'SM', unitOfMeasure: 'seat', quantity: 2 } as const;
  function capture(options: Record<string, unknown> = {}) {
    const payloads: TrackedPayload[] = [];
    const tracker = new Tracker({ appId: 'app', emitter: { enqueue: (p) => void payloads.push(p) }, ...options });
    return { tracker, payloads, json: () => payloads.map((p) => JSON.parse(p.json) as Record<string, string>) };
  }

  it('a custom event goes to the custom lane, a billing event to the billing lane, each with the eid it returned', () => {
    const { tracker, payloads, json } = capture();
    const custom = tracker.trackEvent('clicked');
    const bill = tracker.trackBillingEvent(required);
    const full = tracker.trackBillingEventWithOptionalInput(required, { projectId: 7 });
    expect(payloads.map((p) => [p.kind, p.eid])).toEqual([
      ['custom', custom.eid],
      ['billing', bill.eid],
      ['billing', full.eid],
    ]);
    expect(json().map((p) => p.eid)).toEqual([custom.eid, bill.eid, full.eid]);
    expect(full.eventId).toMatch(/^[0-9a-f-]{36}$/);
    expect(json()[2].se_la).toBe(full.eventId);
    expect(full.eventId).not.toBe(full.eid);
  });

  it('explicit namespace and userAgent are sent as tna and ua; empty ones are left out, as payload_data asks', () => {
    const named = capture({ namespace: 'billing-ns', userAgent: 'svc/1.2' });
    named.tracker.trackEvent('e');
    expect(named.json()[0]).toMatchObject({ tna: 'billing-ns', ua: 'svc/1.2', aid: 'app', p: 'srv' });

    const empty = capture({ namespace: '', userAgent: '' });
    empty.tracker.trackEvent('e');
    empty.tracker.trackBillingEvent(required);
    for (const payload of empty.json()) {
      expect(Object.keys(payload)).not.toContain('tna');
      expect(Object.keys(payload)).not.toContain('ua');
      expect(Object.values(payload)).not.toContain('');
    }
  });

  it('null optional input is the same as none (labkit nil)', () => {
    const { tracker, json } = capture();
    tracker.trackBillingEventWithOptionalInput(required, null as never);
    const cx = JSON.parse(Buffer.from(json()[0].cx, 'base64url').toString('utf8'));
    expect(Object.keys(cx.data[0].data).sort()).toEqual(
      ['event_id', 'event_type', 'quantity', 'realm', 'timestamp', 'unit_of_measure'].sort(),
    );
  });
});

describe('trackEvent validation', () => {
  const { emitter, tracker } = setup();
  afterEach(() => expect(emitter.queueDepth).toBe(0));

  it.each([
    ['an empty name', '', /empty/],
    ['a whitespace name', '   ', /empty/],
    ['a number as name', 42, /string, got number/],
    ['undefined as name', undefined, /string, got undefined/],
    ['a name over 255 characters', 'x'.repeat(256), /at most 255/],
  ])('rejects %s', (_case, name, message) => {
    expectFieldError(() => tracker.trackEvent(name as string), 'name', message);
  });

  class WithCycle {
    self?: WithCycle;
  }
  const cyclic: Record<string, unknown> = { a: 1 };
  cyclic.me = cyclic;
  const nested: Record<string, unknown> = { deep: { deeper: {} } };
  (nested.deep as Record<string, Record<string, unknown>>).deeper.loop = nested;

  it.each([
    ['an array', [1, 2], /plain object, got an array/],
    ['a string', 'props', /plain object, got string/],
    ['a class instance', new WithCycle(), /plain object, got an instance of WithCycle/],
    ['a Map', new Map(), /plain object, got an instance of Map/],
    ['a circular reference', cyclic, /circular/],
    ['a nested circular reference', nested, /circular/],
    ['a BigInt', { n: BigInt(1) }, /BigInt/],
    ['an object whose toJSON returns undefined', { toJSON: () => undefined }, /JSON object, but .* gives undefined/],
    ['an object whose toJSON returns a function', { toJSON: () => () => 1 }, /JSON object, but .* gives undefined/],
    ['an object whose toJSON returns a number', { toJSON: () => 5 }, /JSON object, but .* gives a number/],
    ['an object whose toJSON returns an array', { toJSON: () => [1] }, /JSON object, but .* gives an array/],
    ['an object whose toJSON returns a string', { toJSON: () => 'x' }, /JSON object, but .* gives a string/],
    ['an object whose toJSON returns null', { toJSON: () => null }, /JSON object, but .* gives null/],
    ['an object whose toJSON returns a boolean', { toJSON: () => false }, /JSON object, but .* gives a boolean/],
    [
      'an object whose toJSON throws',
      {
        toJSON: () => {
          throw new Error('nope');
        },
      },
      /cannot be serialised .*nope/,
    ],
  ])('rejects props that are %s', (_case, props, message) => {
    expectFieldError(() => tracker.trackEvent('ok', props as Record<string, unknown>), 'props', message);
  });

  it('rejects an event larger than maxEventBytes with EventTooLargeError and queues nothing', () => {
    expect(() => tracker.trackEvent('big', { blob: 'x'.repeat(2 * 1024 * 1024) })).toThrow(EventTooLargeError);
  });
});

describe('billing validation', () => {
  const { emitter, tracker } = setup();
  afterEach(() => expect(emitter.queueDepth).toBe(0));
  const textFields = ['category', 'eventType', 'realm', 'unitOfMeasure'] as const;

  it.each(
    textFields.flatMap((field) => [
      [field, 'missing', undefined, /required/],
      [field, 'null', null, /required/],
      [field, 'empty', '', /empty/],
      [field, 'whitespace', '  ', /empty/],
      [field, 'a number', 7, /must be a string/],
    ]),
  )('%s %s is rejected', (field, _case, value, message) => {
    const input = { ...required, [field]: value } as BillingEventRequiredInput;
    expectFieldError(() => tracker.trackBillingEvent(input), field, message);
  });

  it.each([
    ['an unknown realm', 'saas'],
    ['another unknown realm', 'SelfManaged'],
  ])('realm as %s is rejected', (_case, realm) => {
    expectFieldError(
      () => tracker.trackBillingEvent({ ...required, realm: realm as 'SaaS' }),
      'realm',
      /one of SaaS, Dedicated, SM/,
    );
  });

  it.each([
    ['missing', undefined, /required/],
    ['a string', '1', /must be a number/],
    ['NaN', NaN, /must be a number, got NaN|finite/],
    ['Infinity', Infinity, /finite/],
    ['-Infinity', -Infinity, /finite/],
    ['zero', 0, /greater than 0/],
    ['negative', -1, /greater than 0/],
  ])('quantity %s is rejected', (_case, quantity, message) => {
    expectFieldError(
      () => tracker.trackBillingEvent({ ...required, quantity: quantity as number }),
      'quantity',
      message,
    );
  });

  const idFields = ['projectId', 'namespaceId', 'organizationId', 'rootNamespaceId'] as const;
  it.each(
    idFields.flatMap((field) => [
      [field, 'negative', -1],
      [field, 'non-integer', 1.5],
      [field, 'NaN', NaN],
      [field, 'unsafe', Number.MAX_SAFE_INTEGER + 1],
      [field, 'a string', '12'],
    ]),
  )('%s %s is rejected', (field, _case, value) => {
    expectFieldError(
      () => tracker.trackBillingEventWithOptionalInput(required, { [field]: value } as BillingEventOptionalInput),
      field,
      /non-negative safe integer/,
    );
  });

  it.each([
    ['instanceId', 12, /must be a string/],
    ['hostName', {}, /must be a string/],
    ['seatIds', 'a,b', /must be an array of strings, got string$/],
    ['seatIds', [1], /must be an array of strings, got number at index 0$/],
    // eslint-disable-next-line no-sparse-arrays -- the hole is the bad input
    ['seatIds', ['a', , 'b'], /must be an array of strings, got a hole at index 1$/],
    ['seatIds', new Array(2), /must be an array of strings, got a hole at index 0$/],
    ['seatIds', ['a', undefined], /must be an array of strings, got undefined at index 1$/],
    ['assignments', [null], /must be an array of strings, got null at index 0$/],
    // eslint-disable-next-line no-sparse-arrays -- the hole is the bad input
    ['assignments', [, 'a'], /must be an array of strings, got a hole at index 0$/],
    ['assignments', { 0: 'a', length: 1 }, /must be an array of strings, got an object$/],
    ['metadata', [], /plain object/],
    ['metadata', 'x', /plain object/],
    ['metadata', { toJSON: () => 'text' }, /must serialise to a JSON object, but JSON.stringify gives a string/],
    ['metadata', { toJSON: () => ['a'] }, /must serialise to a JSON object, but JSON.stringify gives an array/],
    ['metadata', { toJSON: () => undefined }, /must serialise to a JSON object, but JSON.stringify gives undefined/],
  ])('optional %s = %p is rejected', (field, value, message) => {
    expectFieldError(
      () => tracker.trackBillingEventWithOptionalInput(required, { [field]: value } as BillingEventOptionalInput),
      field,
      message,
    );
  });

  it('metadata that JSON cannot represent is rejected', () => {
    const metadata: Record<string, unknown> = {};
    metadata.self = metadata;
    expectFieldError(() => tracker.trackBillingEventWithOptionalInput(required, { metadata }), 'metadata', /circular/);
    expectFieldError(
      () => tracker.trackBillingEventWithOptionalInput(required, { metadata: { n: BigInt(2) } }),
      'metadata',
      /BigInt/,
    );
  });

  it.each([
    ['required', null],
    ['required', 'x'],
    ['required', []],
  ])('%s input %p that is not an object is rejected', (field, value) => {
    expectFieldError(
      () => tracker.trackBillingEvent(value as unknown as BillingEventRequiredInput),
      field,
      /must be an object/,
    );
  });

  it('optional input that is not an object is rejected', () => {
    expectFieldError(
      () => tracker.trackBillingEventWithOptionalInput(required, 'x' as unknown as BillingEventOptionalInput),
      'optional',
      /must be an object/,
    );
  });
});

describe('a stopped emitter', () => {
  it('makes every track method throw EmitterStoppedError', async () => {
    const { emitter, tracker } = setup();
    await emitter.stop();
    expect(() => tracker.trackEvent('x')).toThrow(EmitterStoppedError);
    expect(() => tracker.trackBillingEvent(required)).toThrow(EmitterStoppedError);
    expect(emitter.queueDepth).toBe(0);
  });
});
