import { randomUUID } from 'node:crypto';
import * as path from 'node:path';

/** The test copy of the Iglu registry. */
export const FIXTURE_IGLU_DIR = path.resolve(__dirname, '../../fixtures/iglu');

export const PAYLOAD_DATA = 'iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4';
export const UNSTRUCT_EVENT = 'iglu:com.snowplowanalytics.snowplow/unstruct_event/jsonschema/1-0-0';
export const CONTEXTS = 'iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-1';
export const CUSTOM_EVENT = 'iglu:com.gitlab/custom_event/jsonschema/1-0-0';
export const BILLABLE_USAGE = 'iglu:com.gitlab/billable_usage/jsonschema/1-0-2';

export type Item = Record<string, unknown>;

/** Standard base64 (with padding) of the JSON text of `value`. */
export function base64Json(value: unknown): string {
  return Buffer.from(JSON.stringify(value), 'utf8').toString('base64');
}

/** URL-safe base64 without padding, as trackers use in GET pixels. */
export function base64UrlJson(value: unknown): string {
  return Buffer.from(JSON.stringify(value), 'utf8').toString('base64url');
}

export function unstruct(schema: string, data: unknown): { schema: string; data: unknown } {
  return { schema: UNSTRUCT_EVENT, data: { schema, data } };
}

export function contexts(...entities: Array<{ schema: string; data: unknown }>): { schema: string; data: unknown } {
  return { schema: CONTEXTS, data: entities };
}

export function billableUsage(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    event_id: '7f0e5e2a-9a55-4f0b-8f3b-1c1d2e3f4a5b',
    event_type: 'ci_minutes',
    realm: 'SaaS',
    unit_of_measure: 'minute',
    quantity: 12.5,
    timestamp: '2025-01-02T03:04:05.678Z',
    namespace_id: 42,
    ...overrides,
  };
}

/** The keys every tracker event carries. */
function baseEvent(eid: string): Record<string, string> {
  return { eid, dtm: '1735787045678', stm: '1735787045700', p: 'srv', tv: 'node-1.0.0', tna: 'nestjs', aid: 'app' };
}

/** A `ue` custom_event, ue_px as padded standard base64. */
export function customEventItem(name: string, props: Record<string, unknown> | null, eid = randomUUID()): Item {
  return { ...baseEvent(eid), e: 'ue', ue_px: base64Json(unstruct(CUSTOM_EVENT, { name, props })) };
}

/** A `se` billing event with one billable_usage context in cx. */
export function billingItem(usage: Record<string, unknown> = billableUsage(), eid = randomUUID()): Item {
  return {
    ...baseEvent(eid),
    e: 'se',
    se_ca: 'billing',
    se_ac: 'usage_recorded',
    se_la: 'ci_minutes',
    se_va: '12.5',
    cx: base64Json(contexts({ schema: BILLABLE_USAGE, data: usage })),
  };
}

export function payloadBody(...items: unknown[]): { schema: string; data: unknown[] } {
  return { schema: PAYLOAD_DATA, data: items };
}

/** POSTs `body` (JSON-encoded unless a string) like a tracker does. */
export function postPayload(
  endpoint: string,
  body: unknown,
  contentType = 'application/json; charset=utf-8',
): Promise<Response> {
  return fetch(endpoint, {
    method: 'POST',
    headers: { 'Content-Type': contentType },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}
