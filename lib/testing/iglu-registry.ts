import type AjvModule from 'ajv';
import type { ValidateFunction } from 'ajv';
import type AjvFormatsModule from 'ajv-formats';
import { SnowplowError } from '../errors';
import { loadOptional } from '../utils/optional-dependency';
import { describeAjvError } from './ajv-error-format';
import { IgluSchemaFile, scanRegistryDir } from './iglu-schema-files';
import { toAjvSchema } from './iglu-schema-normalize';
import { parseIgluUri } from './iglu-uri';

/** One reason data does not match a schema. */
export interface IgluValidationError {
  /** The Iglu URI the data was checked against. */
  schema: string;
  /** JSON pointer into the validated data ('' for the data itself). */
  path: string;
  /** The JSON Schema keyword that failed, or `iglu:unknown-schema`, `iglu:invalid-uri`, `iglu:validator-error`. */
  keyword: string;
  /** ajv's `params` for the keyword (e.g. `allowedValues`, `additionalProperty`, `missingProperty`). */
  params: Record<string, unknown>;
  /** Human-readable reason, starting with the pointer. */
  message: string;
}

/** Compiled schemas of one or more static Iglu registries. */
export interface IgluRegistry {
  /** The registry directories, in load order (later ones override earlier ones). */
  readonly dirs: readonly string[];
  /** Every schema URI the registry knows, sorted. */
  uris(): string[];
  /** Whether the registry holds the schema `uri` names. */
  has(uri: string): boolean;
  /** Validates `data` against the schema `uri` names; an empty list means valid. Never throws. */
  validate(uri: string, data: unknown): IgluValidationError[];
}

/** Thrown by `loadIgluRegistry` with every problem found in the registry directories. */
export class IgluRegistryError extends SnowplowError {
  /** Every problem found, one line each (also in the message). */
  readonly problems: readonly string[];

  constructor(problems: readonly string[]) {
    super(`Iglu registry has ${problems.length} problem(s):\n  ${problems.join('\n  ')}`, 'IGLU_REGISTRY_INVALID');
    this.problems = problems;
  }
}

const DRAFT_07 = 'http://json-schema.org/draft-07/schema';
const DRAFT_04 = 'http://json-schema.org/draft-04/schema';

/**
 * Loads and compiles every `schemas/VENDOR/NAME/FORMAT/VERSION` file under the given registry
 * directories. A schema in a later directory replaces the same URI from an earlier one.
 * Throws `IgluRegistryError` listing all unreadable, misplaced or uncompilable files.
 */
export function loadIgluRegistry(dirs: string | readonly string[]): IgluRegistry {
  const list = typeof dirs === 'string' ? [dirs] : [...dirs];
  const problems: string[] = [];
  const files = new Map<string, IgluSchemaFile>();
  for (const dir of list) {
    const scan = scanRegistryDir(dir);
    problems.push(...scan.problems);
    for (const file of scan.files) files.set(file.uri, file);
  }
  const validators = compileAll(createAjv(), files, problems);
  if (problems.length > 0) throw new IgluRegistryError(problems);
  return new CompiledRegistry(list, validators);
}

function createAjv(): AjvModule {
  // Iglu schemas carry keywords ajv's strict mode rejects (`self`, loose type combinations).
  const { Ajv, addFormats } = loadAjv();
  const ajv = new Ajv({ strict: false, allErrors: true, logger: false });
  addFormats(ajv);
  // The Iglu meta-schema refers to draft-04's meta-schema; ajv ships draft-07's, which accepts
  // the same schemas once draft-04 forms are mapped (see toAjvSchema).
  const draft07 = ajv.getSchema(DRAFT_07)?.schema;
  if (typeof draft07 === 'object' && draft07 !== null) {
    ajv.addMetaSchema({ ...draft07, $id: `${DRAFT_04}#` }, undefined, false);
  }
  return ajv;
}

function compileAll(
  ajv: AjvModule,
  files: Map<string, IgluSchemaFile>,
  problems: string[],
): Map<string, ValidateFunction> {
  const validators = new Map<string, ValidateFunction>();
  for (const [uri, file] of files) {
    try {
      validators.set(uri, ajv.compile(toAjvSchema(file.schema)));
    } catch (error) {
      problems.push(`${file.file}: does not compile (${(error as Error).message})`);
    }
  }
  return validators;
}

class CompiledRegistry implements IgluRegistry {
  constructor(
    readonly dirs: readonly string[],
    private readonly validators: ReadonlyMap<string, ValidateFunction>,
  ) {}

  uris(): string[] {
    return [...this.validators.keys()].sort();
  }

  has(uri: string): boolean {
    return this.validators.has(uri);
  }

  validate(uri: string, data: unknown): IgluValidationError[] {
    const validator = this.validators.get(uri);
    if (!validator) return [this.lookupError(uri)];
    try {
      if (validator(data)) return [];
    } catch (error) {
      // e.g. a stack overflow on absurdly deep data under a recursive schema
      const message = `validation could not finish: ${(error as Error).message}`;
      return [{ schema: uri, path: '', keyword: 'iglu:validator-error', params: {}, message }];
    }
    return (validator.errors ?? []).map((error) => ({
      schema: uri,
      path: error.instancePath,
      keyword: error.keyword,
      params: error.params as Record<string, unknown>,
      message: describeAjvError(error, data),
    }));
  }

  private lookupError(uri: string): IgluValidationError {
    const error = { schema: uri, path: '', params: {} };
    if (!parseIgluUri(uri)) {
      const message = `"${uri}" is not an Iglu URI (iglu:VENDOR/NAME/jsonschema/M-R-A)`;
      return { ...error, keyword: 'iglu:invalid-uri', message };
    }
    const message = `unknown schema ${uri} (not in ${this.dirs.join(', ')})`;
    return { ...error, keyword: 'iglu:unknown-schema', message };
  }
}

const AJV_FEATURE = 'nestjs-snowplow/testing (schema validation)';

/** ajv and ajv-formats are optional peers: only the testing entry point validates events. */
function loadAjv(): { Ajv: typeof AjvModule; addFormats: typeof AjvFormatsModule } {
  const ajv = loadOptional<{ default: typeof AjvModule }>({
    name: 'ajv',
    feature: AJV_FEATURE,
    install: 'npm install -D ajv@8 ajv-formats@3',
  });
  const formats = loadOptional<{ default: typeof AjvFormatsModule }>({
    name: 'ajv-formats',
    feature: AJV_FEATURE,
    install: 'npm install -D ajv@8 ajv-formats@3',
  });
  return { Ajv: ajv.default, addFormats: formats.default };
}
