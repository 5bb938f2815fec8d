import { SCHEMAS } from './schemas';

const BILLABLE_USAGE_PREFIX = SCHEMAS.billableUsage.slice(0, SCHEMAS.billableUsage.indexOf('/jsonschema/') + 1);

/**
 * The lane of a payload stored without one: a dead-letter line or an outbox row written before
 * lanes were stored. Every event written since carries its lane, and nothing else infers it.
 *
 * A structured event is not billing by its type: `trackStructEvent` sends plain ones. An event is
 * billing only when it is a structured event (`e=se`) whose `cx` carries a
 * `com.gitlab/billable_usage` entity (any version), the only shape billing events ever had;
 * anything else, an unreadable `cx` included, is `custom`.
 */
export function legacyLane(payload: Readonly<Record<string, unknown>>): 'billing' | 'custom' {
  if (payload.e !== 'se' || typeof payload.cx !== 'string') return 'custom';
  let contexts: unknown;
  try {
    contexts = JSON.parse(Buffer.from(payload.cx, 'base64url').toString('utf8'));
  } catch {
    return 'custom';
  }
  const entities = (contexts as { data?: unknown } | null)?.data;
  if (!Array.isArray(entities)) return 'custom';
  const billable = entities.some(
    (entity: unknown) =>
      typeof (entity as { schema?: unknown } | null)?.schema === 'string' &&
      (entity as { schema: string }).schema.startsWith(BILLABLE_USAGE_PREFIX),
  );
  return billable ? 'billing' : 'custom';
}

/** `legacyLane` of a payload's JSON text; `custom` when the text is not a JSON object. */
export function legacyLaneOfJson(json: string): 'billing' | 'custom' {
  let payload: unknown;
  try {
    payload = JSON.parse(json);
  } catch {
    return 'custom';
  }
  return payload !== null && typeof payload === 'object' && !Array.isArray(payload)
    ? legacyLane(payload as Record<string, unknown>)
    : 'custom';
}
