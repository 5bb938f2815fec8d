import type { EventError } from './types';

/** Snowplow's event_name for each event type `e` the pipeline accepts. */
export const EVENT_TYPE_NAMES: Readonly<Record<string, string>> = {
  pv: 'page_view',
  pp: 'page_ping',
  se: 'event',
  ev: 'event',
  ue: 'unstruct',
  tr: 'transaction',
  ti: 'transaction_item',
  ad: 'ad_impression',
};

const PLATFORMS = ['web', 'mob', 'pc', 'srv', 'app', 'tv', 'cnsl', 'iot'];
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const EPOCH_MS = /^[0-9]{1,15}$/;
const DECIMAL = /^-?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][-+]?[0-9]+)?$/;
const LAST_MS_OF_YEAR_9999 = 253402300799999;

type FieldCheck = (value: string) => string | undefined;

/** Checks enrich applies to single fields; each returns the reason the value is rejected. */
const FIELD_CHECKS: Record<string, FieldCheck> = {
  e: (value) =>
    Object.hasOwn(EVENT_TYPE_NAMES, value)
      ? undefined
      : `unknown event type; one of ${Object.keys(EVENT_TYPE_NAMES).join(', ')}`,
  p: (value) => (PLATFORMS.includes(value) ? undefined : `unknown platform; one of ${PLATFORMS.join(', ')}`),
  eid: (value) => (UUID.test(value) ? undefined : 'must be a UUID'),
  dtm: checkEpochMs,
  stm: checkEpochMs,
  ttm: checkEpochMs,
  se_va: (value) => (DECIMAL.test(value) ? undefined : 'must be a decimal number'),
};

function checkEpochMs(value: string): string | undefined {
  if (EPOCH_MS.test(value) && Number(value) <= LAST_MS_OF_YEAR_9999) return undefined;
  return 'must be a timestamp in epoch milliseconds (digits only)';
}

/**
 * Field-level checks on an event's string values, beyond the payload_data schema: the values
 * enrich parses (event type, platform, UUID, timestamps, se_va) and the keys an event type needs.
 */
export function checkEventFields(item: Record<string, unknown>): EventError[] {
  const errors: EventError[] = [];
  for (const [field, check] of Object.entries(FIELD_CHECKS)) {
    const value = item[field];
    const reason = typeof value === 'string' ? check(value) : undefined;
    if (reason) errors.push({ field, message: `${field} ${JSON.stringify(value)}: ${reason}` });
  }
  errors.push(...requiredByType(item));
  return errors;
}

function requiredByType(item: Record<string, unknown>): EventError[] {
  if (item.e === 'se') {
    return ['se_ca', 'se_ac']
      .filter((field) => item[field] === undefined || item[field] === '')
      .map((field) => ({ field, message: `${field} is required for a structured (se) event` }));
  }
  if (item.e === 'ue' && item.ue_px === undefined && item.ue_pr === undefined) {
    return [{ field: 'ue_px', message: 'a self-describing (ue) event needs ue_px or ue_pr' }];
  }
  return [];
}
