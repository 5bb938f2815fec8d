import { InvalidEventError } from '../errors';
import { igluUri, requiredInputObject, serialiseJsonObject } from '../validation';
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
 * Iglu URIs already checked: schemas are constants at call sites, so each is matched against the
 * URI pattern once (about 700 instructions a URI), like event names (bounded, so that URIs made
 * at run time cannot grow it).
 */
const checkedSchemas = new Set<string>();
const MAX_CACHED_SCHEMAS = 1_000;

/** `schema` if it is an Iglu URI (see `igluUri`); the error names the field as `fieldName` does. */
function schemaOf(schema: unknown, name: string, index: number, prefix: string | undefined): string {
  if (typeof schema === 'string' && checkedSchemas.has(schema)) return schema;
  const uri = igluUri(fieldName(name, index, prefix, 'schema'), schema);
  if (checkedSchemas.size >= MAX_CACHED_SCHEMAS) checkedSchemas.clear();
  checkedSchemas.add(uri);
  return uri;
}

/** The name of a field of the value: `<prefix><field>`, or `<name>[<index>].<field>` for an item of a list. */
function fieldName(name: string, index: number, prefix: string | undefined, field: string): string {
  return index < 0 ? `${prefix ?? ''}${field}` : `${name}[${index}].${field}`;
}

/**
 * The checks of `checkSelfDescribing`, for a value named `name` (or, when `index` is not negative,
 * the item `<name>[<index>]` of a list, whose fields are `<name>[<index>].<field>`): the names
 * are written only for an error.
 */
function checked(value: unknown, name: string, index: number, prefix: string | undefined): EntityJson {
  const input = requiredInputObject(index < 0 ? name : `${name}[${index}]`, value);
  if (input.data === undefined || input.data === null) {
    throw new InvalidEventError(fieldName(name, index, prefix, 'data'), 'is required: a plain object');
  }
  const schema = schemaOf(input.schema, name, index, prefix);
  const text = serialiseJsonObject(input.data);
  if ('error' in text) throw new InvalidEventError(fieldName(name, index, prefix, 'data'), text.error);
  return { schema, json: text.json };
}

/**
 * A self-describing JSON checked: `value` (named `name` in an error) must be an object, its
 * `schema` (named `<prefix>schema`) an Iglu URI and its `data` (`<prefix>data`) a JSON object.
 */
export function checkSelfDescribing(value: unknown, name: string, prefix: string): EntityJson {
  return checked(value, name, -1, prefix);
}

/**
 * The item `index` of a list of self-describing JSONs named `list`, checked as `checkSelfDescribing`
 * checks it with `name` `<list>[<index>]` and `prefix` `<list>[<index>].`.
 */
export function checkSelfDescribingItem(value: unknown, list: string, index: number): EntityJson {
  return checked(value, list, index, undefined);
}

/** The data of a self-describing event (`trackSelfDescribingEvent`), sent as `ue_px`. */
export function selfDescribingData(event: unknown): SelfDescribingData {
  const { schema, json } = checkSelfDescribing(event, 'event', '');
  return { type: 'ue', schema, json };
}
