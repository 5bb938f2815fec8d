import { SCHEMAS } from '../tracker/schemas';
import { builtinIgluRegistry } from './builtin-registry';
import type { IgluRegistry, IgluValidationError } from './iglu-registry';
import { isIgluSchemaOf, parseIgluUri } from './iglu-uri';
import { describeValue, isPlainObject } from './json-value';
import { checkEventFields, EVENT_TYPE_NAMES } from './payload-fields';
import { decodeContexts, decodeUnstruct } from './self-describing';
import type { BadEvent, EventError, GoodEvent, RawEvent, SelfDescribingJson } from './types';

/** The payload_data version trackers send, used for GET pixels and as the default. */
export const PAYLOAD_DATA_SCHEMA: string = SCHEMAS.payloadData;

/** Options of `decodeEvent` and `decodePayloadBody`. */
export interface DecodeOptions {
  /** Schemas to validate against; the built-in registry by default. */
  registry?: IgluRegistry;
  /** Arrival time recorded on each event; now by default. */
  receivedAt?: Date;
  /** The payload_data URI the event is checked against; PAYLOAD_DATA_SCHEMA by default. */
  payloadSchema?: string;
}

/** One event decoded: good, or bad with its reasons. */
export type EventDecodeResult = { ok: true; event: GoodEvent } | { ok: false; event: BadEvent };

/** Validates and decodes one tracker event (a payload item, or a pixel's query parameters). */
export function decodeEvent(item: unknown, options: DecodeOptions = {}): EventDecodeResult {
  const receivedAt = (options.receivedAt ?? new Date()).toISOString();
  if (!isPlainObject(item)) {
    const message = `an event must be a JSON object of string values, got ${describeValue(item)}`;
    return { ok: false, event: { raw: item, errors: [{ field: 'body', message }], receivedAt } };
  }
  const registry = options.registry ?? builtinIgluRegistry();
  const payloadSchema = options.payloadSchema ?? PAYLOAD_DATA_SCHEMA;
  const errors = payloadErrors(item, payloadSchema, registry.validate(payloadSchema, [item]));
  errors.push(...checkEventFields(item));
  const unstruct = decodeUnstruct(item, registry, errors);
  const contexts = decodeContexts(item, registry, errors);
  if (errors.length > 0) return { ok: false, event: { raw: item, errors, receivedAt } };
  return { ok: true, event: goodEvent(item as RawEvent, unstruct, contexts, receivedAt) };
}

/** payload_data failures of `[item]`, each named by the payload key it concerns. */
function payloadErrors(item: Record<string, unknown>, schema: string, failures: IgluValidationError[]): EventError[] {
  const version = parseIgluUri(schema)?.version ?? schema;
  return failures.map((failure) => {
    if (failure.keyword.startsWith('iglu:')) return { field: 'body', schema, message: failure.message };
    const key = failure.path.split('/')[2];
    const path = failure.path.replace(/^\/0/, '');
    const { additionalProperty, missingProperty } = failure.params;
    if (failure.keyword === 'additionalProperties' && typeof additionalProperty === 'string') {
      const message = `unknown key "${additionalProperty}": payload_data ${version} does not allow it`;
      return { field: additionalProperty, schema, path: `/${additionalProperty}`, message };
    }
    if (failure.keyword === 'required' && typeof missingProperty === 'string') {
      return { field: missingProperty, schema, path: `/${missingProperty}`, message: `${missingProperty} is required` };
    }
    if (failure.keyword === 'type' && key !== undefined) {
      return { field: key, schema, path, message: `${key} must be a string, got ${describeValue(item[key])}` };
    }
    return { field: key ?? 'body', schema, path, message: `payload_data ${version}: ${failure.message}` };
  });
}

function goodEvent(
  raw: RawEvent,
  unstruct: SelfDescribingJson | undefined,
  contexts: SelfDescribingJson[],
  receivedAt: string,
): GoodEvent {
  const event: GoodEvent = { eventType: raw.e, name: eventName(raw, unstruct), contexts, raw, receivedAt };
  if (raw.eid !== undefined) event.eid = raw.eid;
  if (unstruct) {
    event.schema = unstruct.schema;
    event.data = unstruct.data;
    if (isCustomEvent(unstruct) && unstruct.data.props !== undefined) event.props = unstruct.data.props;
  }
  return event;
}

interface CustomEventData {
  name: string;
  props?: Record<string, unknown> | null;
}

/** com.gitlab/custom_event data, already validated against its schema. */
function isCustomEvent(unstruct: SelfDescribingJson): unstruct is SelfDescribingJson<CustomEventData> {
  const { schema, data } = unstruct;
  return isIgluSchemaOf(schema, 'com.gitlab', 'custom_event') && isPlainObject(data) && typeof data.name === 'string';
}

function eventName(raw: RawEvent, unstruct: SelfDescribingJson | undefined): string {
  if (raw.e === 'ue' && unstruct) {
    return isCustomEvent(unstruct) ? unstruct.data.name : (parseIgluUri(unstruct.schema)?.name ?? unstruct.schema);
  }
  if (raw.e === 'se' || raw.e === 'ev') return raw.se_ac;
  return EVENT_TYPE_NAMES[raw.e] ?? raw.e;
}
