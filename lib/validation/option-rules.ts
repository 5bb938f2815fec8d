/**
 * The one set of rules for configuration values: the emitter, the storages, the token sources
 * and the module check their options with these, so each rule and its wording live here only.
 * Each throws `InvalidOptionError` naming the option, and returns the value (or the fallback for
 * `undefined`).
 */
import { InvalidOptionError } from '../errors';

/** The bounds of an integer option. */
export interface IntegerRange {
  min: number;
  max?: number;
  /** Named in the message, e.g. `ms`. */
  unit?: string;
}

/** A safe integer within `range`; `fallback` when `undefined`. */
export function checkInteger(option: string, value: unknown, range: IntegerRange, fallback: number): number {
  if (value === undefined) return fallback;
  const { min, max = Number.MAX_SAFE_INTEGER, unit } = range;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    const bounds = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `from ${min} to ${max}`;
    throw new InvalidOptionError(option, `must be an integer ${bounds}${unit ? ` (${unit})` : ''}`);
  }
  return value;
}

/** An integer >= 1: a capacity, a count. */
export function checkPositiveInteger(option: string, value: unknown, fallback: number): number {
  return checkInteger(option, value, { min: 1 }, fallback);
}

/** A finite number >= `min`; `fallback` when `undefined`. */
export function checkNumber(option: string, value: unknown, min: number, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min) {
    throw new InvalidOptionError(option, `must be a finite number >= ${min}`);
  }
  return value;
}

/** A non-empty string (not only whitespace). */
export function checkText(option: string, value: unknown): string {
  if (typeof value !== 'string' || value.trim() === '')
    throw new InvalidOptionError(option, 'must be a non-empty string');
  return value;
}

export function checkBoolean(option: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw new InvalidOptionError(option, 'must be a boolean');
  return value;
}

/** An array of HTTP status codes; `undefined` when unset. */
export function checkStatusCodes(option: string, value: unknown): number[] | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value) || value.some((code) => !Number.isInteger(code) || code < 100 || code > 599)) {
    throw new InvalidOptionError(option, 'must be an array of HTTP status codes (100-599)');
  }
  return value;
}

/** An object with these methods (a function when `methods` is empty); nothing when `undefined`. */
export function checkMethods(option: string, value: unknown, methods: readonly string[]): void {
  if (value === undefined) return;
  const ok =
    methods.length === 0
      ? typeof value === 'function'
      : value !== null &&
        (typeof value === 'object' || typeof value === 'function') &&
        methods.every((m) => typeof (value as Record<string, unknown>)[m] === 'function');
  if (!ok) {
    throw new InvalidOptionError(option, methods.length ? `must have ${methods.join(', ')}()` : 'must be a function');
  }
}

/** An options object (not null, not a primitive); `{}` when `undefined`. */
export function checkObject<T extends object>(option: string, value: T | undefined, shape: string): T {
  if (value === undefined) return {} as T;
  if (value === null || typeof value !== 'object') throw new InvalidOptionError(option, `must be an object (${shape})`);
  return value;
}

/**
 * A bearer token that can stand in an `Authorization` header as it is: the characters of an
 * RFC 6750 b64token and the other visible ASCII, no whitespace or control characters.
 */
export const HEADER_SAFE_TOKEN = /^[\x21-\x7e]+$/;
