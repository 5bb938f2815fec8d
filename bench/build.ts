import { transformFileSync } from '@swc/core';
import { cpSync, existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

/**
 * Where the measured processes' JavaScript goes (git-ignored). BENCH_BUILD_DIR moves it, e.g. to
 * `bench/.build/2` for a second bench at the same time; it must stay inside the checkout, so that
 * the children find its node_modules.
 */
export const BUILD_DIR = process.env.BENCH_BUILD_DIR ? resolve(process.env.BENCH_BUILD_DIR) : join(__dirname, '.build');

const DIST_DIR = join(__dirname, '..', 'dist');
/** The library as built when the bench started; see buildChildren. */
const LIB_SNAPSHOT = join(BUILD_DIR, 'lib');
/** `nestjs-snowplow`, `nestjs-snowplow/core`, and `nestjs-snowplow/internal/<path in lib/>`. */
const LIBRARY_IMPORT = /require\((["'])nestjs-snowplow(\/internal(?:\/[\w.-]+)+|\/[\w-]+)?\1\)/g;
const INTERNAL = '/internal';

const SOURCE_DIRS = ['children', 'support'];
const EXTRA_FILES = ['collector.ts'];

function tsFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return tsFiles(path);
    return name.endsWith('.ts') && !name.endsWith('.d.ts') ? [path] : [];
  });
}

export interface BuildOptions {
  /** The library build to snapshot and measure; default this checkout's dist/. */
  distDir?: string;
  /** Only the sources (paths relative to bench/) it accepts; default all. */
  include?: (file: string) => boolean;
}

/**
 * Compiles the collector and the child scripts to plain CommonJS once, before anything is
 * measured, so that the measured processes run under plain `node` without a TypeScript hook
 * (swc-node loads the TypeScript compiler, which would add ~100 MB to every RSS figure).
 *
 * The sources import the library as `nestjs-snowplow` (the package's own name, i.e. dist/). The
 * build points those imports at a copy of dist/ taken now, so that a rebuild of dist/ while the
 * bench runs (`npm run build` starts with `rm -rf dist`) cannot change or break the measured code.
 *
 * A row that measures a part the package does not export (the collector client, the batch body)
 * imports it as `nestjs-snowplow/internal/<path under lib/>` (bench/tsconfig.json maps that to
 * lib/ for the type checker); the build points it at the same file in the snapshot.
 */
export function buildChildren(options: BuildOptions = {}): void {
  const distDir = options.distDir ?? DIST_DIR;
  if (!existsSync(join(distDir, 'index.js'))) {
    throw new Error(`${distDir} is not built: run \`npm run bench\` (it builds first) or \`npm run build\``);
  }
  rmSync(BUILD_DIR, { recursive: true, force: true });
  cpSync(distDir, LIB_SNAPSHOT, {
    recursive: true,
    filter: (source) => !source.endsWith('.map') && !source.endsWith('.d.ts'),
  });
  const files = [
    ...SOURCE_DIRS.flatMap((d) => tsFiles(join(__dirname, d))),
    ...EXTRA_FILES.map((f) => join(__dirname, f)),
  ].filter((file) => !options.include || options.include(relative(__dirname, file)));
  for (const file of files) {
    const { code } = transformFileSync(file, {
      swcrc: false,
      configFile: false,
      sourceMaps: false,
      jsc: {
        parser: { syntax: 'typescript', decorators: true },
        transform: { legacyDecorator: true, decoratorMetadata: true },
        target: 'es2022',
      },
      module: { type: 'commonjs' },
    });
    const out = join(BUILD_DIR, relative(__dirname, file)).replace(/\.ts$/, '.js');
    const toSnapshot = relative(dirname(out), LIB_SNAPSHOT).replace(/^(?!\.)/, './');
    mkdirSync(dirname(out), { recursive: true });
    writeFileSync(
      out,
      code.replace(LIBRARY_IMPORT, (_m, _q, subpath: string = '') => {
        const internal = subpath.startsWith(`${INTERNAL}/`);
        const path = internal ? subpath.slice(INTERNAL.length) : subpath;
        if (internal && !existsSync(join(LIB_SNAPSHOT, `${path}.js`))) {
          throw new Error(
            `${relative(__dirname, file)} imports nestjs-snowplow${subpath}: not in dist/ (moved in lib/?)`,
          );
        }
        return `require(${JSON.stringify(toSnapshot + path)})`;
      }),
    );
  }
}
