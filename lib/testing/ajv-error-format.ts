import type { ErrorObject } from 'ajv';

/**
 * One line for an ajv error: the JSON pointer into the validated data, ajv's message, the detail
 * ajv keeps in `params` (allowed values, the unexpected key) and the offending value when it is a
 * primitive.
 */
export function describeAjvError(error: ErrorObject, data: unknown): string {
  const where = error.instancePath === '' ? '(root)' : error.instancePath;
  return `${where} ${error.message ?? `fails ${error.keyword}`}${paramDetail(error)}${gotDetail(error, data)}`;
}

function paramDetail(error: ErrorObject): string {
  const params = error.params as Record<string, unknown>;
  if (error.keyword === 'enum' && Array.isArray(params.allowedValues)) {
    return `: ${params.allowedValues.map((value) => JSON.stringify(value)).join(', ')}`;
  }
  if (error.keyword === 'additionalProperties') return `: "${String(params.additionalProperty)}"`;
  return '';
}

function gotDetail(error: ErrorObject, data: unknown): string {
  const value = valueAtPointer(data, error.instancePath);
  if (value !== null && typeof value === 'object') return '';
  if (value === undefined) return '';
  return ` (got ${truncate(JSON.stringify(value), 80)})`;
}

/** The value a JSON pointer names inside `data`, or `undefined`. */
export function valueAtPointer(data: unknown, pointer: string): unknown {
  if (pointer === '') return data;
  let current: unknown = data;
  for (const raw of pointer.slice(1).split('/')) {
    if (current === null || typeof current !== 'object') return undefined;
    const token = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    current = (current as Record<string, unknown>)[token];
  }
  return current;
}

export function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}
