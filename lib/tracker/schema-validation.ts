import { InvalidOptionError, SchemaValidationError } from '../errors';
import { registryWith } from '../testing/builtin-registry';
import { IgluRegistry, IgluRegistryError, IgluValidationError } from '../testing/iglu-registry';
import type { TrackerEvent } from './event';

/**
 * The tracker's strict mode, for development and tests: every event's self-describing data and
 * every entity is checked against local Iglu schemas at track time (with ajv, an optional peer),
 * and a mismatch throws `SchemaValidationError` naming the JSON path. Off by default; it parses
 * and validates every event, so leave it off in production.
 */
export interface ValidateOptions {
  /**
   * Local Iglu registries (`schemas/VENDOR/NAME/jsonschema/M-R-A` under each), on top of the
   * schemas the library ships (the protocol's, `custom_event`, `billable_usage`); a later folder
   * overrides the same URI.
   */
  schemas: string | readonly string[];
}

/** Checks built events against the local schemas (see `ValidateOptions`). */
export class SchemaValidator {
  constructor(private readonly registry: IgluRegistry) {}

  /** Throws `SchemaValidationError` for the first part of `event` its schema refuses. */
  check(event: TrackerEvent): void {
    if (event.data.type === 'ue') this.checkJson('event', event.data.schema, event.data.json);
    for (let i = 0; i < event.entities.length; i++) {
      const { schema, json } = event.entities[i];
      this.checkJson(`entities[${i}]`, schema, json);
    }
  }

  private checkJson(name: string, schema: string, json: string): void {
    const data: unknown = JSON.parse(json);
    const problems = this.registry.validate(schema, data);
    if (problems.length === 0) return;
    const [first] = problems;
    if (first.keyword === 'iglu:unknown-schema') {
      throw new SchemaValidationError(
        `${name}.schema`,
        schema,
        problems,
        `${schema} is not in the local schemas (validate.schemas: ${this.registry.dirs.slice(1).join(', ')})`,
      );
    }
    const reasons = problems.map((problem) => problem.message).join('; ');
    throw new SchemaValidationError(
      `${name}.data${jsonPath(first)}`,
      schema,
      problems,
      `does not match ${schema}: ${reasons}`,
    );
  }
}

/**
 * The `validate` option checked, its schemas loaded and compiled (once, here): `undefined` when
 * unset. Throws `InvalidOptionError` naming `validate` or `validate.schemas`, and
 * `MissingDependencyError` without ajv.
 */
export function schemaValidator(value: unknown): SchemaValidator | undefined {
  if (value === undefined || value === false) return undefined;
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new InvalidOptionError('validate', "must be { schemas: './iglu' } (a local Iglu folder, or a list of them)");
  }
  const { schemas, ...rest } = value as { schemas?: unknown };
  const [extra] = Object.keys(rest);
  if (extra !== undefined) throw new InvalidOptionError(`validate.${extra}`, 'is not an option (schemas)');
  const dirs = typeof schemas === 'string' ? [schemas] : schemas;
  if (!Array.isArray(dirs) || dirs.length === 0 || !dirs.every((dir) => typeof dir === 'string' && dir !== '')) {
    throw new InvalidOptionError(
      'validate.schemas',
      'must be a local Iglu folder (schemas/VENDOR/NAME/jsonschema/M-R-A under it), or a non-empty list of them',
    );
  }
  try {
    return new SchemaValidator(registryWith(dirs as string[]));
  } catch (error) {
    if (error instanceof IgluRegistryError) throw new InvalidOptionError('validate.schemas', error.problems.join('; '));
    throw error;
  }
}

/** The JSON path ajv's error points at, as `.a.b[0]` (a missing or unexpected property included). */
function jsonPath(problem: IgluValidationError): string {
  const segments = problem.path === '' ? [] : problem.path.slice(1).split('/');
  const named = problem.params.missingProperty ?? problem.params.additionalProperty;
  if (typeof named === 'string') segments.push(named.replace(/~/g, '~0').replace(/\//g, '~1'));
  let path = '';
  for (const raw of segments) {
    const segment = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (/^[0-9]+$/.test(segment)) path += `[${segment}]`;
    else if (/^[A-Za-z_$][A-Za-z0-9_$]*$/.test(segment)) path += `.${segment}`;
    else path += `[${JSON.stringify(segment)}]`;
  }
  return path;
}
