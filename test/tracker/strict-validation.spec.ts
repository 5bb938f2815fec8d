// Strict mode (`validate: { schemas }`): every event's data and entities are checked against the
// local Iglu schemas at track time; a mismatch throws a SchemaValidationError naming the JSON path
// and nothing is sent, while the events that match reach the loopback collector, valid there too.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Emitter, InvalidOptionError, SchemaValidationError, Tracker } from '../../lib/core';
import { FIXTURE_IGLU_DIR } from '../support/decode';
import { BILL, CART, CHECKOUT, useFixtureCollector } from './support/fixture-collector';

const suite = useFixtureCollector('strict', { validate: { schemas: FIXTURE_IGLU_DIR } });
const { trackerOf } = suite;
const delivered = (emitter: Emitter) => suite.good(emitter);

function thrown(action: () => unknown): SchemaValidationError {
  try {
    action();
  } catch (error) {
    expect(error).toBeInstanceOf(SchemaValidationError);
    return error as SchemaValidationError;
  }
  throw new Error('expected a SchemaValidationError');
}

describe('strict mode: validate: { schemas }', () => {
  it('throws naming the JSON path of a wrong type, a missing field, an extra field and a nested entity field; sends only valid events', async () => {
    const { tracker, emitter } = trackerOf();
    const wrongType = thrown(() =>
      tracker.trackSelfDescribingEvent({ schema: CHECKOUT, data: { orderId: 'o', total: '1' } }),
    );
    expect(wrongType).toMatchObject({ code: 'SCHEMA_VALIDATION_FAILED', field: 'event.data.total', schema: CHECKOUT });
    expect(wrongType.message).toBe(
      `Invalid event field "event.data.total": does not match ${CHECKOUT}: /total must be number (got "1")`,
    );
    const missing = thrown(() => tracker.trackSelfDescribingEvent({ schema: CHECKOUT, data: { total: 1 } }));
    expect(missing).toMatchObject({ field: 'event.data.orderId' });
    expect(missing.problems).toEqual([expect.objectContaining({ path: '', keyword: 'required' })]);
    const extra = thrown(() =>
      tracker.trackSelfDescribingEvent({ schema: CHECKOUT, data: { orderId: 'o', total: 1, tip: 2 } }),
    );
    expect(extra).toMatchObject({ field: 'event.data.tip' });
    const entity = thrown(() =>
      tracker.trackStructEvent({ category: 'c', action: 'a' }, { entities: [{ schema: CART, data: { items: -1 } }] }),
    );
    expect(entity).toMatchObject({ field: 'entities[0].data.items', schema: CART });
    expect(entity.message).toContain('/items must be >= 0');
    // A billing event's billable_usage entity comes first: the user's entity is entities[1].
    const billing = thrown(() =>
      tracker.trackBillingEventWithOptionalInput(BILL, undefined, {
        entities: [{ schema: CART, data: { items: 1, coupon: 'x'.repeat(33) } }],
      }),
    );
    expect(billing).toMatchObject({ field: 'entities[1].data.coupon' });
    // The custom event is checked against the shipped com.gitlab/custom_event schema.
    const { eid: custom } = tracker.trackEvent('ok', { n: 1 }, { entities: [{ schema: CART, data: { items: 2 } }] });
    const { eid: checkout } = tracker.trackSelfDescribingEvent({ schema: CHECKOUT, data: { orderId: 'o', total: 1 } });
    const { eid: bill } = tracker.trackBillingEvent(BILL);
    const good = await delivered(emitter);
    expect(good.map((event) => event.eid).sort()).toEqual([custom, checkout, bill].sort());
  });

  it('refuses a schema the folders do not hold, naming it and the folder', () => {
    const { tracker } = trackerOf();
    const unknown = thrown(() =>
      tracker.trackSelfDescribingEvent({ schema: 'iglu:com.acme/refund/jsonschema/1-0-0', data: { orderId: 'o' } }),
    );
    expect(unknown).toMatchObject({ field: 'event.schema', schema: 'iglu:com.acme/refund/jsonschema/1-0-0' });
    expect(unknown.message).toContain(`is not in the local schemas (validate.schemas: ${FIXTURE_IGLU_DIR})`);
  });

  it('checks a tracker with a subject (no fast path) the same way', () => {
    const { tracker } = trackerOf({ subject: { uid: 'u' } });
    expect(thrown(() => tracker.trackEvent('x', {}, { entities: [{ schema: CART, data: {} }] }))).toMatchObject({
      field: 'entities[0].data.items',
    });
  });

  it('off by default: the same wrong event is sent (and the collector, not the tracker, refuses it)', async () => {
    const emitter = new Emitter({ collectorUrl: suite.collector.endpoint, lingerMs: 0 });
    suite.stopAfter(emitter);
    const loose = new Tracker({ appId: 'loose', emitter });
    loose.trackSelfDescribingEvent({ schema: CHECKOUT, data: { orderId: 'o', total: '1' } });
    expect((await emitter.drain(20_000)).drained).toBe(true);
    expect(suite.collector.bad()).toHaveLength(1);
  });
});

describe('strict mode: the JSON paths and texts of its errors', () => {
  const PATHS = 'iglu:com.acme/paths/jsonschema/1-0-0';
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'strict-paths-'));
    const folder = join(dir, 'schemas/com.acme/paths/jsonschema');
    mkdirSync(folder, { recursive: true });
    writeFileSync(
      join(folder, '1-0-0'),
      JSON.stringify({
        $schema: 'http://iglucentral.com/schemas/com.snowplowanalytics.self-desc/schema/jsonschema/1-0-0#',
        self: { vendor: 'com.acme', name: 'paths', format: 'jsonschema', version: '1-0-0' },
        type: 'object',
        properties: {
          lines: { type: 'array', items: { type: 'object', properties: { qty: { type: 'integer' } } } },
          'a-b': { type: 'string' },
          'x/y': { type: 'string' },
          tip2: { type: 'string' },
          '2nd': { type: 'string' },
        },
        required: ['2nd'],
        additionalProperties: false,
      }),
    );
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const refusal = (data: Record<string, unknown>, entity = false): SchemaValidationError => {
    const tracker = new Tracker({
      appId: 'strict',
      emitter: { enqueue: () => undefined },
      validate: { schemas: [FIXTURE_IGLU_DIR, dir] },
    });
    return thrown(() =>
      entity
        ? tracker.trackStructEvent({ category: 'c', action: 'a' }, { entities: [{ schema: PATHS, data }] })
        : tracker.trackSelfDescribingEvent({ schema: PATHS, data }),
    );
  };
  const ok = { '2nd': 'x' };

  it('array items, names that are no identifiers, an escaped "/" or "~", a name ending with a digit', () => {
    expect(refusal({ ...ok, lines: [{ qty: 1 }, { qty: 'x' }] }).field).toBe('event.data.lines[1].qty');
    expect(refusal({ ...ok, 'a-b': 1 }).field).toBe('event.data["a-b"]');
    expect(refusal({ ...ok, 'x/y': 1 }).field).toBe('event.data["x/y"]');
    expect(refusal({ ...ok, 't~1': 'x' }).field).toBe('event.data["t~1"]');
    expect(refusal({ ...ok, tip2: 1 }).field).toBe('event.data.tip2');
    expect(refusal({}).field).toBe('event.data["2nd"]');
    expect(refusal({ ...ok, lines: [{ qty: 'x' }] }, true).field).toBe('entities[0].data.lines[0].qty');
  });

  it('every problem is in the message, the first names the field; an unknown schema names every folder given', () => {
    const both = refusal({ ...ok, 'a-b': 1, tip2: 2 });
    expect(both.field).toBe('event.data["a-b"]');
    expect(both.problems).toHaveLength(2);
    expect(both.reason).toBe(`does not match ${PATHS}: ${both.problems.map((p) => p.message).join('; ')}`);
    const tracker = new Tracker({
      appId: 'strict',
      emitter: { enqueue: () => undefined },
      validate: { schemas: [FIXTURE_IGLU_DIR, dir] },
    });
    const missing = thrown(() =>
      tracker.trackStructEvent(
        { category: 'c', action: 'a' },
        { entities: [{ schema: 'iglu:com.acme/nope/jsonschema/1-0-0', data: {} }] },
      ),
    );
    expect(missing.field).toBe('entities[0].schema');
    expect(missing.reason).toBe(
      `iglu:com.acme/nope/jsonschema/1-0-0 is not in the local schemas (validate.schemas: ${FIXTURE_IGLU_DIR}, ${dir})`,
    );
  });

  it('validate: false or undefined is off; null, an array or a list with an empty or non-text folder is refused', () => {
    const queued: unknown[] = [];
    for (const validate of [false, undefined]) {
      const tracker = new Tracker({
        appId: 'strict',
        emitter: { enqueue: (p) => void queued.push(p) },
        validate: validate as never,
      });
      tracker.trackSelfDescribingEvent({ schema: PATHS, data: { wrong: true } });
    }
    expect(queued).toHaveLength(2);
    const option = (validate: unknown): string | undefined => {
      try {
        new Tracker({ appId: 'strict', emitter: { enqueue: () => undefined }, validate: validate as never });
      } catch (error) {
        expect(error).toBeInstanceOf(InvalidOptionError);
        return (error as InvalidOptionError).option;
      }
      return undefined;
    };
    expect([null, [], [dir], 'dir', true].map(option)).toEqual([
      'validate',
      'validate',
      'validate',
      'validate',
      'validate',
    ]);
    expect([{}, { schemas: [] }, { schemas: [dir, ''] }, { schemas: [dir, 7] }, { schemas: 7 }].map(option)).toEqual([
      'validate.schemas',
      'validate.schemas',
      'validate.schemas',
      'validate.schemas',
      'validate.schemas',
    ]);
    expect(option({ schemas: [dir] })).toBeUndefined();
    expect(option({ schemas: dir })).toBeUndefined();
  });
});
