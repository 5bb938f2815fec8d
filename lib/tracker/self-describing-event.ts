import { InvalidEventError } from '../errors';
import { igluUri, jsonObjectText, requiredInputObject } from '../validation';
import type { EntityJson, SelfDescribingData } from './event';

/**
 * A self-describing JSON: data and the Iglu URI of the schema it follows
 * (`iglu:vendor/name/jsonschema/MODEL-REVISION-ADDITION`). The data must be a plain object whose
 * JSON text is an object; that text is what is sent.
 */
export interface SelfDescribingJson<T extends object = Record<string, unknown>> {
  /** The Iglu URI of the schema `data` follows, e.g. `iglu:com.acme/checkout/jsonschema/1-0-0`. */
  schema: string;
  /** The data: a plain object whose JSON text is an object. */
  data: T;
}

/**
 * A self-describing JSON checked: `value` (named `name` in an error) must be an object, its
 * `schema` (named `<prefix>schema`) an Iglu URI and its `data` (`<prefix>data`) a JSON object.
 */
export function checkSelfDescribing(value: unknown, name: string, prefix: string): EntityJson {
  const input = requiredInputObject(name, value);
  if (input.data === undefined || input.data === null) {
    throw new InvalidEventError(`${prefix}data`, 'is required: a plain object');
  }
  return { schema: igluUri(`${prefix}schema`, input.schema), json: jsonObjectText(`${prefix}data`, input.data) };
}

/** The data of a self-describing event (`trackSelfDescribingEvent`), sent as `ue_px`. */
export function selfDescribingData(event: unknown): SelfDescribingData {
  const { schema, json } = checkSelfDescribing(event, 'event', '');
  return { type: 'ue', schema, json };
}
