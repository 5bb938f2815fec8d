/**
 * Rules of the Snowplow tracker protocol for what callers pass to the generic track methods
 * (`trackSelfDescribingEvent`, `trackStructEvent`, `trackPageView`, the `entities`, `subject` and
 * timestamp options): Iglu URIs, JSON object data, and the widths of the columns the pipeline
 * loads each field into (its atomic events table). A value past a width would be refused by
 * enrich (a failed event, not a row); here it is refused at track time. Each rule throws
 * `InvalidEventError` naming the field.
 */
import { InvalidEventError } from '../errors';
import { describeType } from '../utils/values';

/**
 * The widths of the atomic table's columns, in characters, for the fields callers may set. The
 * subject's keys are its field names (`nuid` is sent as `tnuid`).
 */
export const PROTOCOL_LIMITS = {
  se_ca: 1000,
  se_ac: 1000,
  se_la: 4096,
  se_pr: 1000,
  url: 4096,
  page: 2000,
  refr: 4096,
  uid: 255,
  ip: 128,
  ua: 1000,
  duid: 128,
  nuid: 128,
  sid: 128,
  lang: 255,
  tz: 255,
} as const;

/** `iglu:VENDOR/NAME/FORMAT/MODEL-REVISION-ADDITION`, with Iglu's characters for each part. */
const IGLU_URI = /^iglu:[a-zA-Z0-9\-_.]+\/[a-zA-Z0-9\-_]+\/[a-zA-Z0-9\-_]+\/[1-9][0-9]*-[0-9]+-[0-9]+$/;

/** The last millisecond of the year 9999: the latest timestamp the pipeline parses. */
const LAST_MS_OF_YEAR_9999 = 253402300799999;

/** An Iglu schema URI (`iglu:com.acme/checkout/jsonschema/1-0-0`). */
export function igluUri(field: string, value: unknown): string {
  if (value === undefined || value === null) {
    throw new InvalidEventError(field, 'is required: an Iglu URI such as iglu:vendor/name/jsonschema/1-0-0');
  }
  if (typeof value !== 'string') throw new InvalidEventError(field, `must be an Iglu URI, got ${describeType(value)}`);
  if (!IGLU_URI.test(value)) {
    throw new InvalidEventError(
      field,
      `must be an Iglu URI of the form iglu:vendor/name/jsonschema/1-0-0, got ${JSON.stringify(value.slice(0, 200))}`,
    );
  }
  return value;
}

/** A string of at most `max` characters; `undefined` when unset or empty (left out, as the protocol asks). */
export function optionalField(field: string, value: unknown, max: number): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw new InvalidEventError(field, `must be a string, got ${describeType(value)}`);
  if (value.length > max) throw new InvalidEventError(field, `must be at most ${max} characters, got ${value.length}`);
  return value === '' ? undefined : value;
}

/** A required string of at most `max` characters, not empty or only whitespace. */
export function requiredField(field: string, value: unknown, max: number): string {
  if (value === undefined || value === null) throw new InvalidEventError(field, 'is required');
  const text = optionalField(field, value, max);
  if (text === undefined || text.trim() === '') throw new InvalidEventError(field, 'must not be empty or whitespace');
  return text;
}

/** An optional finite number, as the decimal text sent; `undefined` when unset. */
export function optionalFiniteNumber(field: string, value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number') throw new InvalidEventError(field, `must be a number, got ${describeType(value)}`);
  if (!Number.isFinite(value)) throw new InvalidEventError(field, `must be finite, got ${value}`);
  return String(value);
}

/** An optional integer from `min` to `max`, as the text sent; `undefined` when unset. */
export function optionalInteger(field: string, value: unknown, min: number, max: number): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    const got = typeof value === 'number' ? String(value) : describeType(value);
    throw new InvalidEventError(field, `must be an integer from ${min} to ${max}, got ${got}`);
  }
  return String(value);
}

/**
 * An optional timestamp: a `Date` or milliseconds since the epoch (an integer), up to the end of
 * the year 9999; `undefined` when unset.
 */
export function optionalTimestamp(field: string, value: unknown): number | undefined {
  if (value === undefined || value === null) return undefined;
  const ms = value instanceof Date ? value.getTime() : value;
  if (typeof ms !== 'number' || !Number.isSafeInteger(ms) || ms < 0 || ms > LAST_MS_OF_YEAR_9999) {
    const got = typeof ms === 'number' ? String(ms) : describeType(value);
    throw new InvalidEventError(
      field,
      `must be a Date or an integer of milliseconds since the epoch, up to the year 9999, got ${got}`,
    );
  }
  return ms;
}

/** Screen or viewport dimensions, `WIDTHxHEIGHT` in pixels (e.g. `1920x1080`). */
export function optionalDimensions(field: string, value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw new InvalidEventError(field, `must be a string, got ${describeType(value)}`);
  if (!/^[0-9]{1,5}x[0-9]{1,5}$/.test(value)) {
    throw new InvalidEventError(field, `must be WIDTHxHEIGHT in pixels (e.g. 1920x1080), got ${JSON.stringify(value)}`);
  }
  return value;
}

/** Platforms the pipeline accepts for `p`. */
export const PLATFORMS = ['web', 'mob', 'pc', 'srv', 'app', 'tv', 'cnsl', 'iot'] as const;

/** One of {@link PLATFORMS}. */
export type Platform = (typeof PLATFORMS)[number];

/** An optional platform; `undefined` when unset. */
export function optionalPlatform(field: string, value: unknown): Platform | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string' || !(PLATFORMS as readonly string[]).includes(value)) {
    const got = typeof value === 'string' ? JSON.stringify(value) : describeType(value);
    throw new InvalidEventError(field, `must be one of ${PLATFORMS.join(', ')}, got ${got}`);
  }
  return value as Platform;
}
