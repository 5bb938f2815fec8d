/** True for `{}` literals and `Object.create(null)`: not arrays, class instances or boxed values. */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object') return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/**
 * JSON.stringify that reports why a value cannot be represented instead of throwing a TypeError.
 * `json` is `undefined` when the value serialises to nothing (a function, a symbol, or a `toJSON`
 * returning one of those or `undefined`), as JSON.stringify does whatever its typings say.
 */
export function stringifyJson(value: unknown): { json: string | undefined } | { error: string } {
  try {
    return { json: JSON.stringify(value) as string | undefined };
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    if (/circular/i.test(message)) return { error: 'contains a circular reference' };
    if (/bigint/i.test(message)) return { error: 'contains a BigInt, which JSON cannot represent' };
    return { error: `cannot be serialised to JSON (${message.split('\n')[0]})` };
  }
}

/** A short, safe description of a value's type for error messages (never the value itself). */
export function describeType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') {
    const ctor = Object.getPrototypeOf(value)?.constructor?.name;
    return ctor && ctor !== 'Object' ? `an instance of ${ctor}` : 'an object';
  }
  if (typeof value === 'number' && Number.isNaN(value)) return 'NaN';
  return typeof value;
}
