// tsc, the repository's, on files written by a test: for code that must compile and code that
// must not (a compile-fail test asserts the TS error code at the line that must fail).
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const ROOT = resolve(__dirname, '../..');
const TSC = require.resolve('typescript/bin/tsc');

/** One TypeScript diagnostic, as `tsc --pretty false` prints it. */
export interface Diagnostic {
  file: string;
  line: number;
  code: string;
  /** The first line of the message (a chained message's details follow in `details`). */
  message: string;
  /** The indented lines that follow it: why no overload matched, which property, which type. */
  details: string;
}

/**
 * Runs tsc on `files` of `dir`, strict, with decorators as Nest uses them and the library
 * (`nestjs-snowplow`, `nestjs-snowplow/core`) mapped to its sources. Writes `dir/tsconfig.json`.
 */
export async function typecheck(dir: string, files: string[]): Promise<Diagnostic[]> {
  const config = {
    compilerOptions: {
      strict: true,
      noEmit: true,
      module: 'commonjs',
      moduleResolution: 'node10',
      ignoreDeprecations: '6.0',
      target: 'ES2022',
      lib: ['ES2022'],
      types: ['node'],
      typeRoots: [join(ROOT, 'node_modules/@types')],
      skipLibCheck: true,
      experimentalDecorators: true,
      emitDecoratorMetadata: true,
      paths: {
        'nestjs-snowplow': [join(ROOT, 'lib/index.ts')],
        'nestjs-snowplow/core': [join(ROOT, 'lib/core/index.ts')],
        '@nestjs/common': [join(ROOT, 'node_modules/@nestjs/common')],
      },
    },
    files,
  };
  writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify(config, null, 2));
  let output: string;
  try {
    ({ stdout: output } = await run(process.execPath, [TSC, '-p', 'tsconfig.json', '--pretty', 'false'], { cwd: dir }));
  } catch (error) {
    output = (error as { stdout?: string }).stdout ?? '';
    if (output === '') throw error;
  }
  const diagnostics: Diagnostic[] = [];
  for (const line of output.split('\n')) {
    const match = /^(.+?)\((\d+),\d+\): error (TS\d+): (.*)$/.exec(line);
    if (match) {
      diagnostics.push({ file: match[1], line: Number(match[2]), code: match[3], message: match[4], details: '' });
    } else if (line.startsWith(' ') && diagnostics.length > 0) {
      diagnostics[diagnostics.length - 1].details += `${line.trim()}\n`;
    }
  }
  return diagnostics;
}

/** The 1-based line of `source` that holds `marker`. */
export function lineOf(source: string, marker: string): number {
  const index = source.split('\n').findIndex((line) => line.includes(marker));
  if (index < 0) throw new Error(`no line with ${marker}`);
  return index + 1;
}
