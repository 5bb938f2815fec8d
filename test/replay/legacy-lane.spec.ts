// A dead-letter line written before lanes were (no `kind`): its lane comes from what it carries,
// never from its type alone. A plain structured event (trackStructEvent) is not a bill.
import { parseRecord, ParsedRecord } from '../../lib/replay/lines';
import { legacyLane, legacyLaneOfJson } from '../../lib/tracker/lane';

const contexts = (...schemas: string[]) =>
  Buffer.from(
    JSON.stringify({
      schema: 'iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-1',
      data: schemas.map((schema) => ({ schema, data: {} })),
    }),
  ).toString('base64url');

function laneOf(payload: Record<string, string>, kind?: string): string {
  const eid = 'a1b2c3d4-0000-4000-8000-000000000001';
  const line = JSON.stringify({ eid, ...(kind ? { kind } : {}), payload: { eid, dtm: '1700000000000', ...payload } });
  const record = parseRecord(Buffer.from(line));
  if (typeof record === 'string') throw new Error(record);
  return (record as ParsedRecord).kind;
}

const BILLABLE = 'iglu:com.gitlab/billable_usage/jsonschema/1-0-2';
const CART = 'iglu:com.acme/cart/jsonschema/1-0-0';

describe('the lane of a dead-letter line', () => {
  it('without one: billing only for a structured event carrying a billable_usage entity, custom for any other (a plain structured event included)', () => {
    // Billing: the only shape bills ever had, whatever the entity's version or position.
    expect(laneOf({ e: 'se', se_ca: 'ci', se_ac: 'ci_minutes', cx: contexts(BILLABLE) })).toBe('billing');
    expect(laneOf({ e: 'se', cx: contexts(CART, 'iglu:com.gitlab/billable_usage/jsonschema/1-0-0') })).toBe('billing');
    // Custom: a plain structured event, one with other entities, an unreadable cx, a self-describing event.
    expect(laneOf({ e: 'se', se_ca: 'shop', se_ac: 'buy' })).toBe('custom');
    expect(laneOf({ e: 'se', se_ca: 'shop', se_ac: 'buy', cx: contexts(CART) })).toBe('custom');
    expect(laneOf({ e: 'se', se_ca: 'shop', se_ac: 'buy', cx: 'bm90IGpzb24' })).toBe('custom');
    expect(laneOf({ e: 'ue', ue_px: 'e30', cx: contexts(BILLABLE) })).toBe('custom');
    // A line that names its lane keeps it, whatever it carries.
    expect(laneOf({ e: 'se', se_ca: 'shop', se_ac: 'buy' }, 'billing')).toBe('billing');
    expect(laneOf({ e: 'se', cx: contexts(BILLABLE) }, 'custom')).toBe('custom');
  });
});

describe('legacyLane and legacyLaneOfJson (dead-letter lines and outbox rows written before lanes)', () => {
  const cx = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

  it('a cx that is no list of entities, or entities without a string schema, make a custom event, never a throw', () => {
    const bill = { e: 'se', cx: cx({ data: [{ schema: BILLABLE, data: {} }] }) };
    expect(legacyLane(bill)).toBe('billing');
    for (const value of [null, {}, { data: null }, { data: {} }, { data: 'x' }, 7, 'text']) {
      expect(legacyLane({ e: 'se', cx: cx(value) })).toBe('custom');
    }
    // Entities that are null, or whose schema is missing or not a string, are skipped: a later bill still counts.
    const odd = [null, {}, { schema: 7 }, { schema: null }, { schema: CART }];
    expect(legacyLane({ e: 'se', cx: cx({ data: odd }) })).toBe('custom');
    expect(legacyLane({ e: 'se', cx: cx({ data: [...odd, { schema: BILLABLE }] }) })).toBe('billing');
    // The billable_usage prefix ends with its vendor and name: another name starting the same is not a bill.
    expect(
      legacyLane({ e: 'se', cx: cx({ data: [{ schema: 'iglu:com.gitlab/billable_usage_x/jsonschema/1-0-0' }] }) }),
    ).toBe('custom');
    expect(legacyLane({ e: 'se', cx: cx({ data: [{ schema: `x${BILLABLE}` }] }) })).toBe('custom');
    // A cx that is not a string, or no cx at all.
    expect(legacyLane({ e: 'se', cx: 7 })).toBe('custom');
    // Not even the bytes of a bill's contexts as an array.
    const bytes = Array.from(Buffer.from(JSON.stringify({ data: [{ schema: BILLABLE, data: {} }] })));
    expect(legacyLane({ e: 'se', cx: bytes })).toBe('custom');
    expect(legacyLane({ e: 'se' })).toBe('custom');
    expect(legacyLane({ e: 'pv', cx: bill.cx })).toBe('custom');
  });

  it('the JSON text of a payload: its lane, or custom when it is not a JSON object', () => {
    const bill = JSON.stringify({ e: 'se', cx: cx({ data: [{ schema: BILLABLE }] }) });
    expect(legacyLaneOfJson(bill)).toBe('billing');
    for (const text of ['{', 'null', '[]', '7', '"se"', JSON.stringify([{ e: 'se' }])]) {
      expect(legacyLaneOfJson(text)).toBe('custom');
    }
  });
});
