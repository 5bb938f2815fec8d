import { builtinIgluRegistry } from './builtin-registry';
import { decodeEvent, DecodeOptions } from './event-decoder';
import type { IgluRegistry } from './iglu-registry';
import { isIgluSchemaOf } from './iglu-uri';
import { describeValue, isPlainObject } from './json-value';
import type { DecodeResult, EventError } from './types';

/** A POST body whose envelope is right: the payload_data URI and its events. */
export interface PayloadEnvelope {
  schema: string;
  data: unknown[];
}

export type EnvelopeCheck = { ok: true; envelope: PayloadEnvelope } | { ok: false; errors: EventError[] };

const EXPECTED = 'iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-*';

/**
 * Checks the outer `{schema, data}` of a tracker POST body: the schema must be a payload_data
 * version the registry knows and `data` a non-empty array. Does not look inside the events.
 */
export function checkPayloadEnvelope(body: unknown, registry: IgluRegistry = builtinIgluRegistry()): EnvelopeCheck {
  const fail = (path: string, message: string, schema?: string): EnvelopeCheck => ({
    ok: false,
    errors: [{ field: 'body', path, message, ...(schema === undefined ? {} : { schema }) }],
  });
  if (!isPlainObject(body)) return fail('', `body must be a JSON object {schema, data}, got ${describeValue(body)}`);
  const { schema, data } = body;
  if (typeof schema !== 'string' || !isIgluSchemaOf(schema, 'com.snowplowanalytics.snowplow', 'payload_data')) {
    return fail('/schema', `body schema must be ${EXPECTED}, got ${describeValue(schema)}`);
  }
  if (!registry.has(schema)) {
    return fail('/schema', `unknown schema ${schema} (payload_data version not in the registry)`, schema);
  }
  if (!Array.isArray(data)) {
    return fail('/data', `body data must be an array of events, got ${describeValue(data)}`, schema);
  }
  if (data.length === 0) return fail('/data', 'body data is empty: payload_data needs at least one event', schema);
  return { ok: true, envelope: { schema, data } };
}

/**
 * Decodes a parsed tracker POST body `{schema: payload_data, data: [event, ...]}` into good and
 * bad events. A wrong envelope makes one bad record holding the whole body.
 */
export function decodePayloadBody(body: unknown, options: DecodeOptions = {}): DecodeResult {
  const receivedAt = options.receivedAt ?? new Date();
  const checked = checkPayloadEnvelope(body, options.registry);
  if (!checked.ok) {
    return { good: [], bad: [{ raw: body, errors: checked.errors, receivedAt: receivedAt.toISOString() }] };
  }
  const result: DecodeResult = { good: [], bad: [] };
  for (const item of checked.envelope.data) {
    const decoded = decodeEvent(item, { ...options, receivedAt, payloadSchema: checked.envelope.schema });
    if (decoded.ok) result.good.push(decoded.event);
    else result.bad.push(decoded.event);
  }
  return result;
}
