/**
 * Turns an Iglu schema file into a schema ajv (draft-07 mode) compiles with the meaning the file
 * has under Iglu's draft-04 rules: the `$schema` naming the Iglu meta-schema (or draft-04) and the
 * `self` metadata block are dropped, and draft-04 boolean `exclusiveMinimum`/`exclusiveMaximum`
 * become their numeric draft-06+ form.
 */
export function toAjvSchema(file: Record<string, unknown>): Record<string, unknown> {
  const schema = mapSchema(file) as Record<string, unknown>;
  delete schema.self;
  if (typeof schema.$schema === 'string' && DROPPED_META.some((meta) => meta.test(schema.$schema as string))) {
    delete schema.$schema;
  }
  return schema;
}

const DROPPED_META = [
  /iglucentral\.com\/schemas\/com\.snowplowanalytics\.self-desc\/schema\/jsonschema\//,
  /^https?:\/\/json-schema\.org\/draft-04\/schema#?$/,
];

/** Keywords whose value is an object of subschemas, by name. */
const SCHEMA_MAPS = new Set(['properties', 'patternProperties', 'definitions', '$defs', 'dependencies']);
/** Keywords whose value is a subschema or an array of them. */
const SCHEMA_VALUES = new Set([
  'items',
  'additionalItems',
  'additionalProperties',
  'not',
  'allOf',
  'anyOf',
  'oneOf',
  'contains',
  'propertyNames',
  'if',
  'then',
  'else',
]);

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function mapSchema(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(mapSchema);
  if (!isObject(node)) return node;
  const out: Record<string, unknown> = {};
  for (const [keyword, value] of Object.entries(node)) {
    if (SCHEMA_MAPS.has(keyword) && isObject(value)) out[keyword] = mapEach(value);
    else if (SCHEMA_VALUES.has(keyword)) out[keyword] = mapSchema(value);
    else out[keyword] = value;
  }
  mapExclusiveBound(out, 'exclusiveMinimum', 'minimum');
  mapExclusiveBound(out, 'exclusiveMaximum', 'maximum');
  return out;
}

function mapEach(schemas: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(schemas).map(([name, schema]) => [name, mapSchema(schema)]));
}

function mapExclusiveBound(schema: Record<string, unknown>, exclusive: string, bound: string): void {
  const flag = schema[exclusive];
  if (typeof flag !== 'boolean') return;
  if (flag && typeof schema[bound] === 'number') {
    schema[exclusive] = schema[bound];
    delete schema[bound];
  } else {
    delete schema[exclusive];
  }
}
