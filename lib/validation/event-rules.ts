/**
 * The one set of rules for what callers pass: every entry point (`Tracker.trackEvent`,
 * `trackBillingEvent*`, `@TrackEvent`) checks with these functions, so a rule and its wording
 * live here only. Values are judged by what is actually sent: props and metadata by their JSON
 * text (which is then sent as is), string arrays by the plain copy that is sent.
 *
 * The `...Problem` and `serialiseJsonObject` functions return why a value is refused, for callers
 * that throw an error of their own (the decorator's `InvalidOptionError`); the others throw
 * `InvalidEventError` naming the field.
 */
import { InvalidEventError } from '../errors';
import { describeType, isPlainObject, stringifyJson } from '../utils/values';

/** Longest event name the custom_event schema accepts. */
export const MAX_EVENT_NAME_LENGTH = 255;

/** Longest value of a required billing text field (the billable_usage schema's limit). */
export const MAX_BILLING_TEXT_LENGTH = 255;

/** Realms a billing event may name. */
export const BILLING_REALMS = ['SaaS', 'Dedicated', 'SM'] as const;

/** One of {@link BILLING_REALMS}. */
export type BillingRealm = (typeof BILLING_REALMS)[number];

/** Why `name` cannot be an event name, or `undefined` when it can. */
export function eventNameProblem(name: unknown): string | undefined {
  if (typeof name !== 'string') return `must be a string, got ${describeType(name)}`;
  if (name.trim() === '') return 'must not be empty or whitespace';
  if (name.length > MAX_EVENT_NAME_LENGTH) {
    return `must be at most ${MAX_EVENT_NAME_LENGTH} characters, got ${name.length}`;
  }
  return undefined;
}

/** Throws `InvalidEventError` for field "name" unless `name` is a valid event name. */
export function validateEventName(name: unknown): asserts name is string {
  const problem = eventNameProblem(name);
  if (problem !== undefined) throw new InvalidEventError('name', problem);
}

/** The JSON text of a props or metadata value, or why it has none. */
export type JsonObjectText = { json: string } | { error: string };

/** `{`: the first character of any JSON object text. */
const OPEN_BRACE = 0x7b;

/**
 * The JSON text `value` is sent as, if it is a plain object whose serialised form is a JSON object;
 * otherwise why not. A plain object can still serialise to something else through a `toJSON`
 * (`undefined`, a number, an array, a string): the text is what counts. `expected` words what is
 * accepted, for the "must be ..." message.
 */
export function serialiseJsonObject(value: unknown, expected = 'a plain object'): JsonObjectText {
  if (!isPlainObject(value)) return { error: `must be ${expected}, got ${describeType(value)}` };
  const result = stringifyJson(value);
  if ('error' in result) return result;
  const { json } = result;
  if (json === undefined || json.charCodeAt(0) !== OPEN_BRACE) {
    const kind = serialisedKind(json);
    return { error: `must serialise to a JSON object, but JSON.stringify gives ${kind} (see its toJSON)` };
  }
  return { json };
}

/** The JSON object text of `value` (see {@link serialiseJsonObject}); throws `InvalidEventError` naming `field`. */
export function jsonObjectText(field: string, value: unknown): string {
  const result = serialiseJsonObject(value);
  if ('error' in result) throw new InvalidEventError(field, result.error);
  return result.json;
}

/** What JSON text that is not an object holds, by its first character. */
function serialisedKind(json: string | undefined): string {
  if (json === undefined) return 'undefined';
  switch (json[0]) {
    case '[':
      return 'an array';
    case '"':
      return 'a string';
    case 'n':
      return 'null';
    case 't':
    case 'f':
      return 'a boolean';
    default:
      return 'a number';
  }
}

/** A required billing text field of `input`: a non-empty string of at most 255 characters. */
export function requiredText(input: Record<string, unknown>, field: string): string {
  const value = input[field];
  if (value === undefined || value === null) throw new InvalidEventError(field, 'is required');
  if (typeof value !== 'string') throw new InvalidEventError(field, `must be a string, got ${describeType(value)}`);
  if (value.trim() === '') throw new InvalidEventError(field, 'must not be empty or whitespace');
  if (value.length > MAX_BILLING_TEXT_LENGTH) {
    throw new InvalidEventError(field, `must be at most ${MAX_BILLING_TEXT_LENGTH} characters, got ${value.length}`);
  }
  return value;
}

/** The billing realm: one of {@link BILLING_REALMS}. */
export function requiredRealm(input: Record<string, unknown>): BillingRealm {
  const realm = requiredText(input, 'realm');
  if (!(BILLING_REALMS as readonly string[]).includes(realm)) {
    throw new InvalidEventError('realm', `must be one of ${BILLING_REALMS.join(', ')}, got ${JSON.stringify(realm)}`);
  }
  return realm as BillingRealm;
}

/** The billing quantity: a finite number greater than 0. */
export function requiredQuantity(value: unknown): number {
  if (value === undefined || value === null) throw new InvalidEventError('quantity', 'is required');
  if (typeof value !== 'number') {
    throw new InvalidEventError('quantity', `must be a number, got ${describeType(value)}`);
  }
  if (!Number.isFinite(value)) throw new InvalidEventError('quantity', `must be finite, got ${value}`);
  if (value <= 0) throw new InvalidEventError('quantity', `must be greater than 0, got ${value}`);
  return value;
}

/** Caller-supplied input objects may be plain objects or class instances (DTOs), never arrays or primitives. */
export function requiredInputObject(field: string, value: unknown): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new InvalidEventError(field, `must be an object, got ${describeType(value)}`);
  }
  return value as Record<string, unknown>;
}

/** An optional string field; `undefined` when unset or empty (left out of the event). */
export function optionalString(field: string, value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw new InvalidEventError(field, `must be a string, got ${describeType(value)}`);
  return value === '' ? undefined : value;
}

/**
 * An optional id: a non-negative safe integer. `undefined` when unset or 0, which is left out of
 * the event as labkit's `omitempty` does.
 */
export function optionalId(field: string, value: unknown): number | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    const got = typeof value === 'number' ? String(value) : describeType(value);
    throw new InvalidEventError(field, `must be a non-negative safe integer, got ${got}`);
  }
  return value === 0 ? undefined : value;
}

/**
 * An optional array of strings, as the plain copy that is sent (an array's own `toJSON` or extra
 * properties are not). Every index must hold a string: a hole is refused, not sent as `null`.
 * `undefined` when unset or empty.
 */
export function optionalStrings(field: string, value: unknown): string[] | undefined {
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value)) {
    throw new InvalidEventError(field, `must be an array of strings, got ${describeType(value)}`);
  }
  const length = value.length;
  if (length === 0) return undefined;
  const copy: string[] = [];
  for (let i = 0; i < length; i++) {
    if (!(i in value)) throw new InvalidEventError(field, `must be an array of strings, got a hole at index ${i}`);
    const item: unknown = value[i];
    if (typeof item !== 'string') {
      throw new InvalidEventError(field, `must be an array of strings, got ${describeType(item)} at index ${i}`);
    }
    copy.push(item);
  }
  return copy;
}

/**
 * An optional object field (billing `metadata`) as the JSON object text that is sent;
 * `undefined` when unset or when it serialises to `{}`.
 */
export function optionalJsonObject(field: string, value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined;
  const json = jsonObjectText(field, value);
  return json === '{}' ? undefined : json;
}
