// A dead-letter line written before lanes were (no `kind`): its lane comes from what it carries,
// never from its type alone. A plain structured event (trackStructEvent) is not a bill.
import { parseRecord, ParsedRecord } from '../../lib/replay/lines';

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
