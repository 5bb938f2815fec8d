import { decodeBase64Json, Decoded, parseJson } from './base64-json';
import type { IgluRegistry, IgluValidationError } from './iglu-registry';
import { isIgluSchemaOf } from './iglu-uri';
import { isSelfDescribing } from './json-value';
import type { EventError, SelfDescribingJson } from './types';

const SNOWPLOW = 'com.snowplowanalytics.snowplow';

/** JSON decoded from one payload field. */
interface FieldJson {
  field: string;
  value: unknown;
}

/**
 * The self-describing event in `ue_px` (base64) or `ue_pr` (plain JSON), unwrapped from
 * unstruct_event and validated, wrapper and inner data. Problems go to `errors`.
 */
export function decodeUnstruct(
  item: Record<string, unknown>,
  registry: IgluRegistry,
  errors: EventError[],
): SelfDescribingJson | undefined {
  const json = readFieldJson(item, 'ue_px', 'ue_pr', errors);
  if (!json) return undefined;
  const wrapper = checkWrapper(json, 'unstruct_event', registry, errors);
  if (!wrapper) return undefined;
  if (!isSelfDescribing(wrapper.data)) {
    const message = `${json.field}: /data must be a self-describing JSON {schema, data}`;
    errors.push({ field: json.field, schema: wrapper.schema, path: '/data', message });
    return undefined;
  }
  const inner = wrapper.data;
  const count = errors.length;
  const failures = registry.validate(inner.schema, inner.data);
  pushSchemaErrors(errors, json.field, '/data', `${json.field} event`, failures);
  return errors.length === count ? inner : undefined;
}

/** The entities in `cx` (base64) or `co` (plain JSON), each validated against its schema. */
export function decodeContexts(
  item: Record<string, unknown>,
  registry: IgluRegistry,
  errors: EventError[],
): SelfDescribingJson[] {
  const json = readFieldJson(item, 'cx', 'co', errors);
  if (!json) return [];
  const wrapper = checkWrapper(json, 'contexts', registry, errors);
  if (!wrapper) return [];
  if (!Array.isArray(wrapper.data) || !wrapper.data.every(isSelfDescribing)) {
    const message = `${json.field}: /data must be an array of self-describing JSONs {schema, data}`;
    errors.push({ field: json.field, schema: wrapper.schema, path: '/data', message });
    return [];
  }
  const entities: SelfDescribingJson[] = wrapper.data;
  entities.forEach((entity, index) => {
    const label = `${json.field} context ${index}`;
    const failures = registry.validate(entity.schema, entity.data);
    pushSchemaErrors(errors, json.field, `/data/${index}`, label, failures);
  });
  return entities;
}

/** Reads `base64Key` or `plainKey` as JSON; `undefined` when absent, not a string, or broken. */
function readFieldJson(
  item: Record<string, unknown>,
  base64Key: string,
  plainKey: string,
  errors: EventError[],
): FieldJson | undefined {
  if (item[base64Key] !== undefined && item[plainKey] !== undefined) {
    errors.push({ field: plainKey, message: `both ${base64Key} and ${plainKey} are set: send only one` });
    return undefined;
  }
  const field = item[base64Key] !== undefined ? base64Key : plainKey;
  const text = item[field];
  // A non-string value is reported by the payload_data check already.
  if (typeof text !== 'string') return undefined;
  const decoded: Decoded<unknown> = field === base64Key ? decodeBase64Json(text) : parseJson(text);
  if (!decoded.ok) {
    errors.push({ field, message: `${field} ${decoded.message}` });
    return undefined;
  }
  return { field, value: decoded.value };
}

/** Checks the outer self-describing JSON names and matches `com.snowplowanalytics.snowplow/NAME`. */
function checkWrapper(
  json: FieldJson,
  name: string,
  registry: IgluRegistry,
  errors: EventError[],
): SelfDescribingJson | undefined {
  const expected = `iglu:${SNOWPLOW}/${name}/jsonschema/1-0-*`;
  if (!isSelfDescribing(json.value)) {
    const message = `${json.field} must be a self-describing JSON {schema: "${expected}", data}`;
    errors.push({ field: json.field, message });
    return undefined;
  }
  if (!isIgluSchemaOf(json.value.schema, SNOWPLOW, name)) {
    const message = `${json.field} must be wrapped in ${expected}, got ${json.value.schema}`;
    errors.push({ field: json.field, schema: json.value.schema, path: '/schema', message });
    return undefined;
  }
  const count = errors.length;
  const failures = registry.validate(json.value.schema, json.value.data);
  pushSchemaErrors(errors, json.field, '', `${json.field} wrapper`, failures);
  return errors.length === count ? json.value : undefined;
}

/**
 * Adds the failures of validating the `data` of the self-describing JSON at `prefix`, a pointer
 * into the field's decoded JSON ('' for the wrapper itself).
 */
function pushSchemaErrors(
  errors: EventError[],
  field: string,
  prefix: string,
  label: string,
  failures: IgluValidationError[],
): void {
  for (const failure of failures) {
    const lookup = failure.keyword === 'iglu:unknown-schema' || failure.keyword === 'iglu:invalid-uri';
    errors.push({
      field,
      schema: failure.schema,
      path: lookup ? `${prefix}/schema` : `${prefix}/data${failure.path}`,
      message: lookup ? `${label}: ${failure.message}` : `${label} ${failure.schema}: ${failure.message}`,
    });
  }
}
