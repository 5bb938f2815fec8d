// The tracker's `entities` option (global entities): static entities, generators and conditional
// entries with accept/reject rule sets and filters, sent by a real emitter to the loopback
// collector, where every payload is decoded and validated against the Snowplow protocol schemas and
// the test schemas of test/fixtures/iglu (com.acme/tenant and com.acme/cart are entities).
import {
  Emitter,
  EventTooLargeError,
  GlobalEntityFailure,
  InvalidEventError,
  InvalidOptionError,
  Tracker,
} from '../../lib/core';
import { GoodEvent } from '../../lib/testing/types';
import {
  defaultEntityErrorLog,
  describeEntityFailure,
  GlobalEntityEvent,
  schemaMatchesRule,
} from '../../lib/tracker/global-entities';
import { BILL, BILLABLE_USAGE, CART, CHECKOUT, goodByEid, useFixtureCollector } from './support/fixture-collector';

const TENANT = 'iglu:com.acme/tenant/jsonschema/1-0-0';

const suite = useFixtureCollector('globals');
const { trackerOf } = suite;
const delivered = (emitter: Emitter, count: number) => goodByEid(suite, emitter, count);

const tenant = (name: string) => ({ schema: TENANT, data: { tenant: name } });

describe('global entities at the collector', () => {
  it('static entities and generators follow the event’s own entities, on every event type, billable_usage first', async () => {
    const seen: string[] = [];
    const { tracker, emitter } = trackerOf({
      entities: [
        tenant('static'),
        (event) => {
          seen.push(`${event.eventType} ${event.lane} ${event.schema ?? '-'}`);
          return [{ schema: CART, data: { items: seen.length } }];
        },
      ],
    });
    const ids = [
      tracker.trackEvent('signup').eid,
      tracker.trackSelfDescribingEvent(
        { schema: CHECKOUT, data: { orderId: 'o-1', total: 1 } },
        { entities: [{ schema: CART, data: { items: 0 } }] },
      ).eid,
      tracker.trackStructEvent({ category: 'shop', action: 'view' }).eid,
      tracker.trackPageView({ url: 'https://example.com/' }).eid,
      tracker.trackBillingEvent(BILL).eid,
    ];
    const events = await delivered(emitter, 5);
    const schemas = ids.map((eid) => (events.get(eid) as GoodEvent).contexts.map((c) => c.schema));
    expect(schemas).toEqual([
      [TENANT, CART],
      [CART, TENANT, CART],
      [TENANT, CART],
      [TENANT, CART],
      [BILLABLE_USAGE, TENANT, CART],
    ]);
    expect((events.get(ids[1]) as GoodEvent).contexts).toEqual([
      { schema: CART, data: { items: 0 } },
      { schema: TENANT, data: { tenant: 'static' } },
      { schema: CART, data: { items: 2 } },
    ]);
    expect(seen).toEqual([
      'ue custom iglu:com.gitlab/custom_event/jsonschema/1-0-0',
      `ue custom ${CHECKOUT}`,
      'se custom -',
      'pv custom -',
      `se billing ${BILLABLE_USAGE}`,
    ]);
  });

  it('accept, reject and filter choose the events, matched on the event schema (billing as billable_usage)', async () => {
    const { tracker, emitter } = trackerOf({
      entities: [
        { entity: tenant('acme-any'), accept: ['iglu:com.acme/*/jsonschema/1-*-*'] },
        {
          entity: tenant('gitlab-not-billing'),
          accept: ['iglu:com.gitlab/*/jsonschema/*-*-*'],
          reject: ['iglu:com.gitlab/billable_usage/jsonschema/1-*-*'],
        },
        { entity: tenant('not-acme'), reject: ['iglu:com.acme/*/jsonschema/*-*-*'] },
        { entity: () => tenant('billing'), accept: ['iglu:com.gitlab/billable_usage/jsonschema/1-0-*'] },
        { entity: tenant('acme-2'), accept: ['iglu:com.acme/*/jsonschema/2-*-*'] },
        { entity: tenant('struct-buy'), filter: (event) => event.eventType === 'se' && event.data.action === 'buy' },
        // Any one rule of a set matching is enough.
        {
          entity: tenant('big-orders'),
          accept: ['iglu:com.acme/*/jsonschema/2-*-*', CHECKOUT],
          filter: (event) => (event.data.total as number) > 100,
        },
      ],
    });
    const ids = {
      small: tracker.trackSelfDescribingEvent({ schema: CHECKOUT, data: { orderId: 'o-1', total: 5 } }).eid,
      big: tracker.trackSelfDescribingEvent({ schema: CHECKOUT, data: { orderId: 'o-2', total: 500 } }).eid,
      custom: tracker.trackEvent('signup').eid,
      billing: tracker.trackBillingEvent(BILL).eid,
      buy: tracker.trackStructEvent({ category: 'shop', action: 'buy' }).eid,
      view: tracker.trackPageView({ url: 'https://example.com/' }).eid,
    };
    const events = await delivered(emitter, 6);
    const tenants = Object.fromEntries(
      Object.entries(ids).map(([key, eid]) => [
        key,
        (events.get(eid) as GoodEvent).contexts
          .filter((c) => c.schema === TENANT)
          .map((c) => (c.data as { tenant: string }).tenant),
      ]),
    );
    expect(tenants).toEqual({
      small: ['acme-any'],
      big: ['acme-any', 'big-orders'],
      custom: ['gitlab-not-billing', 'not-acme'],
      billing: ['not-acme', 'billing'],
      // No schema: no accept rule matches, a reject-only rule set lets them through.
      buy: ['not-acme', 'struct-buy'],
      view: ['not-acme'],
    });
  });

  it('a throwing generator or filter, or an invalid generated entity, is left out and reported; the event is sent', async () => {
    const failures: GlobalEntityFailure[] = [];
    const { tracker, emitter } = trackerOf({
      entities: [
        () => {
          throw new Error('generator down');
        },
        { entity: tenant('filtered'), filter: () => JSON.parse('{') as boolean },
        () => [{ schema: TENANT } as never, tenant('kept')],
        () => ({ schema: 'not-a-uri', data: {} }) as never,
        // Nothing to add, not a failure.
        () => null,
        { entity: tenant('not-true'), filter: () => 1 as unknown as boolean },
        tenant('static'),
      ],
      onEntityError: (failure) => failures.push(failure),
    });
    const custom = tracker.trackEvent('signup').eid;
    const billing = tracker.trackBillingEvent(BILL).eid;
    const events = await delivered(emitter, 2);
    expect((events.get(custom) as GoodEvent).contexts).toEqual([tenant('kept'), tenant('static')]);
    expect((events.get(billing) as GoodEvent).contexts.map((c) => c.schema)).toEqual([BILLABLE_USAGE, TENANT, TENANT]);
    const summary = failures.map(({ path, lane, error }) => [path, lane, (error as Error).message]);
    expect(summary).toEqual([
      ['entities[0]', 'custom', 'generator down'],
      ['entities[1].filter', 'custom', expect.stringContaining('JSON')],
      ['entities[2][0]', 'custom', expect.stringContaining('"entities[2][0].data"')],
      ['entities[3]', 'custom', expect.stringContaining('"entities[3].schema"')],
      ['entities[0]', 'billing', 'generator down'],
      ['entities[1].filter', 'billing', expect.stringContaining('JSON')],
      ['entities[2][0]', 'billing', expect.stringContaining('"entities[2][0].data"')],
      ['entities[3]', 'billing', expect.stringContaining('"entities[3].schema"')],
    ]);
  });
});

describe('global entities past maxEventBytes', () => {
  it('an event, billing included, that global entities would make too large is sent without them, and told', async () => {
    const failures: GlobalEntityFailure[] = [];
    const emitter = new Emitter({ collectorUrl: suite.collector.endpoint, lingerMs: 0, maxEventBytes: 4_000 });
    suite.stopAfter(emitter);
    const tracker = new Tracker({
      appId: 'globals',
      emitter,
      entities: [tenant('small'), () => ({ schema: CART, data: { items: 1, coupon: 'x'.repeat(5_000) } })],
      onEntityError: (failure) => failures.push(failure),
    });
    const own = { schema: CART, data: { items: 2 } };
    const custom = tracker.trackSelfDescribingEvent(
      { schema: CHECKOUT, data: { orderId: 'o-1', total: 1 } },
      { entities: [own] },
    ).eid;
    const billing = tracker.trackBillingEvent(BILL).eid;
    const events = await delivered(emitter, 2);
    expect((events.get(custom) as GoodEvent).contexts).toEqual([own]);
    expect((events.get(billing) as GoodEvent).contexts.map((c) => c.schema)).toEqual([BILLABLE_USAGE]);
    expect(failures.map(({ path, lane, error }) => [path, lane, (error as Error).name])).toEqual([
      ['entities', 'custom', 'EventTooLargeError'],
      ['entities', 'billing', 'EventTooLargeError'],
    ]);
  });
});

describe('the entities option, checked at construction', () => {
  const sink = { enqueue: () => undefined };
  const refused = (entities: unknown): InvalidOptionError => {
    try {
      new Tracker({ appId: 'globals', emitter: sink, entities: entities as never });
    } catch (err) {
      expect(err).toBeInstanceOf(InvalidOptionError);
      return err as InvalidOptionError;
    }
    throw new Error('the tracker accepted the option');
  };

  it.each([
    [tenant('x'), 'entities', 'must be an array'],
    [[tenant('x'), 42], 'entities[1]', 'must be an entity {schema, data}, a generator function or {entity'],
    [[{ schema: 'iglu:com.acme/tenant/jsonschema/1.0.0', data: {} }], 'entities[0].schema', 'must be an Iglu URI'],
    [[{ schema: TENANT }], 'entities[0].data', 'is required'],
    [[{ entity: tenant('x'), accept: 'iglu:com.acme/*/jsonschema/1-*-*' }], 'entities[0].accept', 'non-empty array'],
    [[{ entity: tenant('x'), reject: [] }], 'entities[0].reject', 'non-empty array'],
    [
      [tenant('x'), { entity: tenant('x'), accept: [CHECKOUT, 'iglu:*.acme/*/jsonschema/1-*-*'] }],
      'entities[1].accept[1]',
      'first two not "*"',
    ],
    [
      [{ entity: tenant('x'), accept: ['iglu:com.*/x/jsonschema/1-0-0'] }],
      'entities[0].accept[0]',
      'first two not "*"',
    ],
    [[{ entity: tenant('x'), accept: ['com.acme/x/jsonschema/1-0-0'] }], 'entities[0].accept[0]', 'missing "iglu:"'],
    [
      [{ entity: tenant('x'), accept: ['iglu:com.acme/x/1-0-0'] }],
      'entities[0].accept[0]',
      'vendor/name/format/version',
    ],
    [[{ entity: tenant('x'), accept: ['iglu:com.acme/x/jsonschema/1-0'] }], 'entities[0].accept[0]', 'not M-R-A'],
    [[{ entity: tenant('x'), accept: ['iglu:com.acme/x/jsonschema/0-*-*'] }], 'entities[0].accept[0]', 'not M-R-A'],
    [
      [{ entity: tenant('x'), accept: ['iglu:com.acme/x y/jsonschema/1-*-*'] }],
      'entities[0].accept[0]',
      'invalid name',
    ],
    [[{ entity: tenant('x'), accept: ['iglu:com.acme/x/avro/1-*-*'] }], 'entities[0].accept[0]', 'format other than'],
    [[{ entity: tenant('x'), reject: [7] }], 'entities[0].reject[0]', 'must be a schema rule'],
    [[{ entity: tenant('x'), filter: true }], 'entities[0].filter', 'must be a function'],
    [[{ entity: { schema: TENANT, data: [] } }], 'entities[0].entity.data', ''],
    [
      [{ entity: tenant('x'), when: () => true }],
      'entities[0].when',
      'is not a key of a conditional entity (entity, accept, reject, filter)',
    ],
    [
      [{ entity: tenant('x'), accept: ['iglu:acme/x/jsonschema/1-0-0'] }],
      'entities[0].accept[0]',
      'at least two parts',
    ],
    [[tenant('x'), null], 'entities[1]', 'must be an entity {schema, data}, a generator function or {entity'],
    [[[tenant('x')]], 'entities[0]', 'must be an entity {schema, data}, a generator function or {entity'],
    // eslint-disable-next-line no-sparse-arrays
    [[, tenant('x')], 'entities[0]', 'is a hole'],
    [
      [{ entity: tenant('x'), accept: ['iglu:com.ac me/x/jsonschema/1-0-0'] }],
      'entities[0].accept[0]',
      'invalid vendor',
    ],
    [[{ entity: tenant('x'), accept: ['iglu:com.acme/x/jsonschema/1-01-0'] }], 'entities[0].accept[0]', 'not M-R-A'],
    [[{ entity: tenant('x'), accept: ['iglu:com.acme/x/jsonschema/1-0-0x'] }], 'entities[0].accept[0]', 'not M-R-A'],
  ])('%j is refused, naming %s', (entities, option, reason) => {
    const error = refused(entities);
    expect(error.option).toBe(option);
    expect(error.message).toContain(reason);
  });

  it.each([
    ['iglu:com.acme/*/jsonschema/*-*-*', CHECKOUT, true],
    ['iglu:com.acme/*/jsonschema/1-*-*', 'iglu:com.acme/checkout/jsonschema/2-0-0', false],
    ['iglu:com.acme/checkout/jsonschema/1-0-*', 'iglu:com.acme/checkout/jsonschema/1-0-7', true],
    ['iglu:com.acme/checkout/jsonschema/1-0-*', 'iglu:com.acme/checkout/jsonschema/1-1-0', false],
    ['iglu:com.acme.*/x/*/1-0-0', 'iglu:com.acme.shop/x/jsonschema/1-0-0', true],
    // A wildcard vendor part stands for exactly one part.
    ['iglu:com.acme.*/x/*/1-0-0', 'iglu:com.acme/x/jsonschema/1-0-0', false],
    ['iglu:com.acme.*/x/*/1-0-0', 'iglu:com.acme.a.b/x/jsonschema/1-0-0', false],
    ['iglu:com.acme/a_b-c/jsonschema/10-2-*', 'iglu:com.acme/a_b-c/jsonschema/10-2-3', true],
    ['iglu:com.acme/*/jsonschema/*-*-*', 'iglu:com.acmex/checkout/jsonschema/1-0-0', false],
    ['iglu:com.gitlab/*/jsonschema/*-*-*', 'iglu:com.gitlab/billable_usage/jsonschema/1-0-2', true],
    ['iglu:com.acme/x/jsonschema/100-20-0', 'iglu:com.acme/x/jsonschema/100-20-0', true],
    ['iglu:com.acme/x/jsonschema/100-20-0', 'iglu:com.acme/x/jsonschema/100-2-0', false],
  ])('the rule %s matches %s: %s', (rule, schema, matches) => {
    expect(schemaMatchesRule(rule, schema)).toBe(matches);
  });

  it('a refused rule is quoted to its first 200 characters; schemaMatchesRule names the rule', () => {
    const long = `iglu:com.acme/${'n'.repeat(300)}/avro/1-0-0`;
    const error = refused([{ entity: tenant('x'), accept: [long] }]);
    expect(error.message).toContain(
      `has a format other than jsonschema or * in ${JSON.stringify(long.slice(0, 200))} (a rule is`,
    );
    expect(() => schemaMatchesRule('com.acme/x/jsonschema/1-0-0', CHECKOUT)).toThrow(
      expect.objectContaining({ option: 'rule' }),
    );
  });

  it('null and [] are no global entities: the events are sent as without the option', async () => {
    const { emitter } = trackerOf();
    const eids = [null, []].map(
      (entities) =>
        new Tracker({ appId: 'globals', emitter, entities: entities as never }).trackEvent('signup', null, {
          entities: [tenant('own')],
        }).eid,
    );
    const events = await delivered(emitter, 2);
    expect(eids.map((eid) => events.get(eid)?.contexts)).toEqual([[tenant('own')], [tenant('own')]]);
  });

  it('without onEntityError, a failure is warned about on the console at most once per 10 s', async () => {
    const warn = jest.spyOn(console, 'warn').mockImplementation(() => undefined);
    try {
      const { tracker, emitter } = trackerOf({
        entities: [
          () => {
            throw new TypeError('no tenant');
          },
        ],
      });
      for (let i = 0; i < 3; i++) tracker.trackEvent('signup');
      await delivered(emitter, 3);
      expect(warn.mock.calls).toEqual([
        ['nestjs-snowplow: global entity entities[0] threw TypeError: no tenant; the event was sent without it'],
      ]);
    } finally {
      warn.mockRestore();
    }
  });
});

describe('what a generator sees of the event', () => {
  it('each event type, its lane, eid, schema and data (frozen, optional fields only when set)', async () => {
    const seen: Array<Pick<GlobalEntityEvent, 'eventType' | 'lane' | 'eid' | 'schema' | 'data'> & { frozen: boolean }> =
      [];
    const { tracker, emitter } = trackerOf({
      entities: [
        (event) => {
          const { eventType, lane, eid, schema, data } = event;
          // Read twice: parsed once, the same frozen object.
          seen.push({ eventType, lane, eid, schema, data, frozen: Object.isFrozen(data) && event.data === data });
          return undefined;
        },
      ],
    });
    const eids = [
      tracker.trackStructEvent({ category: 'shop', action: 'buy', label: 'sku-1', property: 'blue', value: 2.5 }).eid,
      tracker.trackStructEvent({ category: 'shop', action: 'view', label: '' }).eid,
      tracker.trackPageView({ url: 'https://shop.example/', title: 'Shop', referrer: 'https://ref.example/' }).eid,
      tracker.trackPageView({ url: 'https://shop.example/cart' }).eid,
      tracker.trackSelfDescribingEvent({ schema: CHECKOUT, data: { orderId: 'o-1', total: 1 } }).eid,
      tracker.trackBillingEvent(BILL).eid,
    ];
    await delivered(emitter, 6);
    expect(seen.map(({ eid }) => eid)).toEqual(eids);
    expect(seen.map(({ eid: _eid, data, ...rest }) => ({ ...rest, data: { ...data } }))).toEqual([
      {
        eventType: 'se',
        lane: 'custom',
        schema: undefined,
        frozen: true,
        data: { category: 'shop', action: 'buy', label: 'sku-1', property: 'blue', value: 2.5 },
      },
      { eventType: 'se', lane: 'custom', schema: undefined, frozen: true, data: { category: 'shop', action: 'view' } },
      {
        eventType: 'pv',
        lane: 'custom',
        schema: undefined,
        frozen: true,
        data: { url: 'https://shop.example/', title: 'Shop', referrer: 'https://ref.example/' },
      },
      { eventType: 'pv', lane: 'custom', schema: undefined, frozen: true, data: { url: 'https://shop.example/cart' } },
      { eventType: 'ue', lane: 'custom', schema: CHECKOUT, frozen: true, data: { orderId: 'o-1', total: 1 } },
      {
        eventType: 'se',
        lane: 'billing',
        schema: BILLABLE_USAGE,
        frozen: true,
        data: expect.objectContaining({ event_type: 'ci_minutes', quantity: 3, unit_of_measure: 'minute' }),
      },
    ]);
    // No key is there with an undefined value.
    expect(seen.map(({ data }) => Object.values(data).includes(undefined))).toEqual([
      false,
      false,
      false,
      false,
      false,
      false,
    ]);
  });
});

describe('the report of a global entity left out', () => {
  const failure = (error: unknown, path = 'entities[0]'): GlobalEntityFailure => ({ path, error, lane: 'custom' });

  it('names the entry and what it threw, the invalid field, or the sizes of a too large event', () => {
    expect(describeEntityFailure(failure(new TypeError('no tenant'), 'entities[2]'))).toBe(
      'global entity entities[2] threw TypeError: no tenant',
    );
    expect(describeEntityFailure(failure('boom', 'entities[1].filter'))).toBe(
      'global entity entities[1].filter threw string',
    );
    expect(describeEntityFailure(failure(null))).toBe('global entity entities[0] threw null');
    expect(
      describeEntityFailure(
        failure(new InvalidEventError('entities[2][1].data', 'must be an object'), 'entities[2][1]'),
      ),
    ).toBe('global entity entities[2][1] is invalid: "entities[2][1].data" must be an object');
    expect(describeEntityFailure(failure(new EventTooLargeError(5_123, 4_000), 'entities'))).toBe(
      'global entities left out: with them the event would take 5123 bytes, over maxEventBytes (4000)',
    );
  });

  it('the default log warns once per interval (10 s unless set), then counts those left out since', () => {
    const now = jest.spyOn(Date, 'now');
    try {
      const warnings: string[] = [];
      const log = defaultEntityErrorLog((message) => warnings.push(message));
      const at = (ms: number, what: string) => {
        now.mockReturnValue(ms);
        log(failure(new Error(what)));
      };
      at(100_000, 'a');
      at(100_000, 'b');
      at(109_999, 'c');
      at(110_000, 'd');
      at(119_999, 'e');
      at(120_000, 'f');
      const sent = '; the event was sent without it';
      expect(warnings).toEqual([
        `nestjs-snowplow: global entity entities[0] threw Error: a${sent}`,
        `nestjs-snowplow: global entity entities[0] threw Error: d${sent} (2 more since the last report)`,
        `nestjs-snowplow: global entity entities[0] threw Error: f${sent} (1 more since the last report)`,
      ]);

      const short: string[] = [];
      const every50 = defaultEntityErrorLog((message) => short.push(message), 50);
      now.mockReturnValue(0);
      every50(failure(new Error('first')));
      now.mockReturnValue(50);
      every50(failure(new Error('second')));
      expect(short).toEqual([
        `nestjs-snowplow: global entity entities[0] threw Error: first${sent}`,
        `nestjs-snowplow: global entity entities[0] threw Error: second${sent}`,
      ]);
    } finally {
      now.mockRestore();
    }
  });
});
