import * as fs from 'node:fs';
import * as path from 'node:path';
import { formatIgluUri, IgluSchemaKey } from './iglu-uri';

/** One schema file of a static Iglu registry, parsed but not compiled. */
export interface IgluSchemaFile {
  uri: string;
  file: string;
  schema: Record<string, unknown>;
}

/** What a registry directory holds: the schema files, and what was wrong with the rest. */
export interface RegistryDirScan {
  files: IgluSchemaFile[];
  problems: string[];
}

const VERSION = /^[0-9]+-[0-9]+-[0-9]+$/;
const KEY_PARTS = ['vendor', 'name', 'format', 'version'] as const;

/**
 * Reads every `schemas/VENDOR/NAME/FORMAT/VERSION` file under `dir`. `dir` is the registry root
 * (holding `schemas/`); a path to the `schemas` folder itself is accepted too.
 */
export function scanRegistryDir(dir: string): RegistryDirScan {
  const scan: RegistryDirScan = { files: [], problems: [] };
  if (!isDirectory(dir)) {
    scan.problems.push(`${dir}: not a directory`);
    return scan;
  }
  const nested = path.join(dir, 'schemas');
  walk(isDirectory(nested) ? nested : dir, [], scan);
  return scan;
}

function isDirectory(dir: string): boolean {
  try {
    return fs.statSync(dir).isDirectory();
  } catch {
    return false;
  }
}

function walk(dir: string, segments: string[], scan: RegistryDirScan): void {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    if (entry.name.startsWith('.')) continue;
    const full = path.join(dir, entry.name);
    const parts = [...segments, entry.name];
    if (entry.isDirectory() && parts.length < 4) walk(full, parts, scan);
    else if (entry.isFile() && parts.length === 4) readSchemaFile(full, parts, scan);
    else scan.problems.push(`${full}: expected schemas/VENDOR/NAME/FORMAT/VERSION with VERSION a file`);
  }
}

function readSchemaFile(file: string, parts: string[], scan: RegistryDirScan): void {
  const key: IgluSchemaKey = { vendor: parts[0], name: parts[1], format: parts[2], version: parts[3] };
  const problem = checkKey(key);
  if (problem) {
    scan.problems.push(`${file}: ${problem}`);
    return;
  }
  const parsed = parseJsonFile(file);
  if (typeof parsed === 'string') {
    scan.problems.push(`${file}: ${parsed}`);
    return;
  }
  const selfProblem = checkSelf(parsed.self, key);
  if (selfProblem) scan.problems.push(`${file}: ${selfProblem}`);
  else scan.files.push({ uri: formatIgluUri(key), file, schema: parsed });
}

function checkKey(key: IgluSchemaKey): string | undefined {
  if (!VERSION.test(key.version)) return `version "${key.version}" is not MODEL-REVISION-ADDITION`;
  if (key.format !== 'jsonschema') return `format "${key.format}" is not supported (only jsonschema)`;
  return undefined;
}

/** The parsed JSON object, or a string saying why the file is not one. */
function parseJsonFile(file: string): Record<string, unknown> | string {
  let value: unknown;
  try {
    value = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (error) {
    return `not valid JSON (${(error as Error).message})`;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return 'a schema file must hold a JSON object';
  }
  return value as Record<string, unknown>;
}

function checkSelf(self: unknown, key: IgluSchemaKey): string | undefined {
  if (typeof self !== 'object' || self === null) return 'missing the "self" block';
  const block = self as Record<string, unknown>;
  const wrong = KEY_PARTS.filter((part) => block[part] !== key[part]);
  if (wrong.length === 0) return undefined;
  return `"self" block disagrees with the file path on ${wrong
    .map((part) => `${part} (${JSON.stringify(block[part])} vs "${key[part]}")`)
    .join(', ')}`;
}
