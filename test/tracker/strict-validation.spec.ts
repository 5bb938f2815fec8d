// Strict mode (`validate: { schemas }`): every event's data and entities are checked against the
// local Iglu schemas at track time; a mismatch throws a SchemaValidationError naming the JSON path
// and nothing is sent, while the events that match reach the loopback collector, valid there too.
import { Emitter, SchemaValidationError, Tracker } from '../../lib/core';
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
