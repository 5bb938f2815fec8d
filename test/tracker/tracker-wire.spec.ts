// What the tracker puts on the wire for inputs that are valid but unusual: each event is taken
// from the payload the tracker built, decoded and checked against the Iglu fixtures.
import { BillingEventOptionalInput, BillingEventRequiredInput, TrackedPayload, Tracker } from '../../lib/core';
import { decodeEvent } from '../../lib/testing/event-decoder';
import { GoodEvent } from '../../lib/testing/types';
import { fixtureRegistry } from '../support/decode';

const required: BillingEventRequiredInput = {
  category: 'billing',
  eventType: 'ci_minutes',
  realm: 'SaaS',
  unitOfMeasure: 'minute',
  quantity: 2,
};

/** A tracker over a sink that keeps what it is given, and the decoder of what it kept. */
function setup() {
  const payloads: TrackedPayload[] = [];
  const tracker = new Tracker({ appId: 'wire', emitter: { enqueue: (payload) => void payloads.push(payload) } });
  const last = (): GoodEvent => {
    const result = decodeEvent(JSON.parse(payloads[payloads.length - 1].json), { registry: fixtureRegistry() });
    if (!result.ok) throw new Error(`schema-invalid event: ${JSON.stringify(result.event.errors)}`);
    return result.event;
  };
  /** The billable_usage entity of the last event. */
  const entity = (): Record<string, unknown> => last().contexts[0].data as Record<string, unknown>;
  /** The decoded `cx` text of the last event, as sent. */
  const cxText = (): string => Buffer.from(last().raw.cx as string, 'base64url').toString('utf8');
  return { payloads, tracker, last, entity, cxText };
}

describe('custom event props on the wire', () => {
  it('null props, like undefined, send no props key', () => {
    const { tracker, last } = setup();
    tracker.trackEvent('no_props_null', null);
    expect(last().data).toEqual({ name: 'no_props_null' });
    expect(last().data).not.toHaveProperty('props');
    tracker.trackEvent('no_props_undefined');
    expect(last().data).toEqual({ name: 'no_props_undefined' });
  });

  it('sends the JSON text of props that serialise to an object, toJSON included', () => {
    const { tracker, last } = setup();
    tracker.trackEvent('with_to_json', { toJSON: () => ({ shown: true }), hidden: 'not sent' });
    expect(last().props).toEqual({ shown: true });
    const at = new Date('2024-05-01T00:00:00.000Z');
    tracker.trackEvent('nested_to_json', { at, skipped: undefined });
    expect(last().props).toEqual({ at: '2024-05-01T00:00:00.000Z' });
  });

  it('reads props once: what was validated is what is sent', () => {
    const { tracker, last } = setup();
    let reads = 0;
    tracker.trackEvent('read_once', {
      get n() {
        return ++reads;
      },
    });
    expect(reads).toBe(1);
    expect(last().props).toEqual({ n: 1 });
  });
});

describe('billable_usage entity on the wire', () => {
  it('leaves out ids that are 0 (labkit omitempty) and keeps the others', () => {
    const { tracker, entity } = setup();
    const zeros = { projectId: 0, namespaceId: 0, organizationId: 0, rootNamespaceId: 0 };
    tracker.trackBillingEventWithOptionalInput(required, zeros);
    const sent = entity();
    for (const wire of ['project_id', 'namespace_id', 'organization_id', 'root_namespace_id']) {
      expect(sent).not.toHaveProperty(wire);
    }
    const mixed = { projectId: 1, namespaceId: 0, organizationId: -0, rootNamespaceId: 9 };
    tracker.trackBillingEventWithOptionalInput(required, mixed);
    expect(entity()).toMatchObject({ project_id: 1, root_namespace_id: 9 });
    expect(entity()).not.toHaveProperty('namespace_id');
    expect(entity()).not.toHaveProperty('organization_id');
  });

  it('sends the metadata JSON text it validated, serialising the metadata once', () => {
    const { tracker, entity, cxText } = setup();
    let serialised = 0;
    let reads = 0;
    const metadata = {
      plan: 'ultimate',
      get version() {
        return ++reads;
      },
      nested: {
        toJSON: () => {
          serialised++;
          return { seats: 3 };
        },
      },
    };
    tracker.trackBillingEventWithOptionalInput(required, { metadata });
    expect(serialised).toBe(1);
    expect(reads).toBe(1);
    expect(entity().metadata).toEqual({ plan: 'ultimate', version: 1, nested: { seats: 3 } });
    expect(cxText()).toContain(',"metadata":{"plan":"ultimate","version":1,"nested":{"seats":3}}}}]}');
  });

  it('sends what metadata with its own toJSON serialises to, and leaves out metadata that serialises to {}', () => {
    const { tracker, entity } = setup();
    tracker.trackBillingEventWithOptionalInput(required, { metadata: { toJSON: () => ({ from: 'toJSON' }) } });
    expect(entity().metadata).toEqual({ from: 'toJSON' });
    tracker.trackBillingEventWithOptionalInput(required, { metadata: { gone: undefined } });
    expect(entity()).not.toHaveProperty('metadata');
  });

  it('sends a plain copy of seatIds and assignments, whatever toJSON, subclass or extra keys they have', () => {
    const { tracker, entity } = setup();
    const seatIds = Object.assign(['s1', 's2'], { toJSON: () => ['forged'], extra: 'x' });
    class Tags extends Array<string> {
      toJSON(): string {
        return 'not an array';
      }
    }
    const assignments = Tags.from(['duo_pro', 'duo_enterprise']) as Tags;
    tracker.trackBillingEventWithOptionalInput(required, { seatIds, assignments } as BillingEventOptionalInput);
    expect(entity()).toMatchObject({ seat_ids: ['s1', 's2'], assignments: ['duo_pro', 'duo_enterprise'] });
  });

  it('reads each array element once: the string validated is the string sent', () => {
    const { tracker, entity } = setup();
    let reads = 0;
    const seatIds: string[] = [];
    Object.defineProperty(seatIds, 0, { enumerable: true, get: () => `seat-${++reads}` });
    tracker.trackBillingEventWithOptionalInput(required, { seatIds });
    expect(reads).toBe(1);
    expect(entity().seat_ids).toEqual(['seat-1']);
  });
});
