import { isPlainObject } from '../utils/values';
import { truncate } from './ajv-error-format';
import type { SelfDescribingJson } from './types';

export { isPlainObject };

export function isSelfDescribing(value: unknown): value is SelfDescribingJson {
  return isPlainObject(value) && typeof value.schema === 'string' && 'data' in value;
}

/** `null`, `an array`, `an object`, or the `typeof` of a primitive followed by it (cut at 80 characters). */
export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  const text = typeof value === 'string' ? JSON.stringify(value) : String(value);
  return `${typeof value} ${truncate(text, 80)}`;
}
