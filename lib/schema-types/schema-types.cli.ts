#!/usr/bin/env node
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { SchemaTypesUsageError } from '../errors';
import { generateSchemaTypes } from './schema-types';

export const SCHEMA_TYPES_USAGE = `Usage: nestjs-snowplow-types --iglu DIR [--iglu DIR...] --out FILE.ts [--name NAME]

Writes TypeScript types for every schema of the local Iglu folders (schemas/VENDOR/NAME/jsonschema/M-R-A):
a readonly data type and a URI constant per schema, and the catalogue interface NAME (default
SnowplowSchemas) for new Tracker<NAME>(...) and TrackerService<NAME>. Needs json-schema-to-typescript
and typescript (npm install -D json-schema-to-typescript@16 typescript).

  --iglu DIR   a local Iglu registry (repeatable; a later one overrides the same URI)
  --out FILE   the .ts file to write (its folder must exist)
  --name NAME  the catalogue interface's name (default SnowplowSchemas)
  -h, --help   show this text
Exit status: 0 when written, 1 on an error, 2 on a usage error.`;

/** The command line, checked. */
export interface SchemaTypesCliOptions {
  iglu: string[];
  out: string;
  name?: string;
  help: boolean;
}

/** Reads the command line; throws `SchemaTypesUsageError` naming the flag it cannot use. */
export function parseSchemaTypesArgs(argv: readonly string[]): SchemaTypesCliOptions {
  let values: { iglu?: string[]; out?: string; name?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        iglu: { type: 'string', multiple: true },
        out: { type: 'string' },
        name: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    const message = (error as Error).message;
    const flag = /'(--?[a-zA-Z-]+)/.exec(message)?.[1] ?? 'arguments';
    throw new SchemaTypesUsageError(flag, message);
  }
  if (values.help) return { iglu: [], out: '', help: true };
  if (!values.iglu || values.iglu.length === 0)
    throw new SchemaTypesUsageError('--iglu', 'is required (an Iglu folder)');
  if (values.iglu.some((dir) => dir === '')) throw new SchemaTypesUsageError('--iglu', 'must not be empty');
  if (values.out === undefined || values.out === '') {
    throw new SchemaTypesUsageError('--out', 'is required (the .ts file to write)');
  }
  if (!values.out.endsWith('.ts') || values.out.endsWith('.d.ts')) {
    throw new SchemaTypesUsageError('--out', `must name a .ts file (it holds constants), got "${values.out}"`);
  }
  if (values.name !== undefined && !/^[A-Za-z_$][A-Za-z0-9_$]*$/.test(values.name)) {
    throw new SchemaTypesUsageError('--name', `must be a TypeScript identifier, got "${values.name}"`);
  }
  return { iglu: values.iglu, out: values.out, name: values.name, help: false };
}

/**
 * Runs the CLI: writes the types file and returns the line to print. Throws
 * `SchemaTypesUsageError` (the command line), `SchemaTypesSourceError` (a folder or schema file)
 * or `MissingDependencyError`.
 */
export async function runSchemaTypesCli(argv: readonly string[]): Promise<string> {
  const options = parseSchemaTypesArgs(argv);
  if (options.help) return SCHEMA_TYPES_USAGE;
  const source = await generateSchemaTypes({ iglu: options.iglu, catalogueName: options.name });
  const out = path.resolve(options.out);
  try {
    // Written whole, then renamed: a build never reads half a file.
    const temp = `${out}.${process.pid}.tmp`;
    fs.writeFileSync(temp, source);
    fs.renameSync(temp, out);
  } catch (error) {
    throw new SchemaTypesUsageError('--out', `cannot write ${out} (${(error as Error).message})`);
  }
  const count = source.match(/^export const /gm)?.length ?? 0;
  return `nestjs-snowplow-types: wrote ${count} schema type(s) to ${out}`;
}

// Stryker disable all: main() runs only in the child process of the CLI spec.
async function main(): Promise<void> {
  try {
    console.log(await runSchemaTypesCli(process.argv.slice(2)));
  } catch (error) {
    const usage = error instanceof SchemaTypesUsageError;
    console.error(
      error instanceof Error ? `${error.name} [${(error as { code?: string }).code}]: ${error.message}` : error,
    );
    if (usage) console.error(`\n${SCHEMA_TYPES_USAGE}`);
    process.exitCode = usage ? 2 : 1;
  }
}

if (require.main === module) void main();
