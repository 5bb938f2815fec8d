import * as path from 'node:path';
import { IgluRegistry, loadIgluRegistry } from './iglu-registry';

/**
 * The Iglu registry shipped with the package (`iglu/` at the package root): the Snowplow protocol
 * schemas plus com.gitlab custom_event and billable_usage. The path resolves the same from
 * lib/testing/*.ts (jest) and from dist/testing/*.js (tsc -p tsconfig.build.json).
 */
export const BUILTIN_IGLU_DIR = path.resolve(__dirname, '../../iglu');

let builtin: IgluRegistry | undefined;

/** The built-in registry, loaded on first use and shared. */
export function builtinIgluRegistry(): IgluRegistry {
  builtin ??= loadIgluRegistry([BUILTIN_IGLU_DIR]);
  return builtin;
}

/** The built-in registry plus `extraDirs`, later directories overriding earlier ones. */
export function registryWith(extraDirs: readonly string[] = []): IgluRegistry {
  if (extraDirs.length === 0) return builtinIgluRegistry();
  return loadIgluRegistry([BUILTIN_IGLU_DIR, ...extraDirs]);
}
