import { MissingDependencyError } from '../errors';

/** An optional peer dependency: what it is for, and how to install it. */
export interface OptionalDependency {
  /** The package name, as `require()` takes it. */
  name: string;
  /** What needs it, for the message: e.g. "The durable SQLite event store". */
  feature: string;
  /** The command that installs it, e.g. `npm install better-sqlite3@12`. */
  install: string;
}

/**
 * Loads an optional peer dependency the first time a feature needs it. Every failure (not
 * installed, an ES module this Node.js cannot require, broken) becomes a `MissingDependencyError`
 * naming the package and the install command. `load` is `require` (replaceable for tests).
 */
export function loadOptional<T>(dependency: OptionalDependency, load: (id: string) => unknown = require): T {
  const { name, feature, install } = dependency;
  try {
    return load(name) as T;
  } catch (err) {
    const code = (err as { code?: unknown } | null)?.code;
    const message = err instanceof Error ? err.message : String(err);
    if (code === 'MODULE_NOT_FOUND' && message.includes(`'${name}'`)) {
      throw new MissingDependencyError(name, feature, install);
    }
    const detail =
      code === 'ERR_REQUIRE_ESM'
        ? 'is an ES module this Node.js cannot require() (use Node.js 20.19+ or 22.12+)'
        : `could not be loaded (${typeof code === 'string' ? `${code}: ` : ''}${message.split('\n', 1)[0]})`;
    throw new MissingDependencyError(name, feature, install, detail);
  }
}
