import { ChildProcess, spawn } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

const ROOT = path.resolve(__dirname, '../../..');

/** What `npm start` runs, split at the `&&`: an npm script that builds, then the entry node runs. */
export interface StartCommand {
  build: string;
  entry: string;
}

/** Parses package.json's start script, `npm run build:sample && exec node <entry>`. */
export function startCommand(packageDir: string): StartCommand {
  const pkg = JSON.parse(readFileSync(path.join(packageDir, 'package.json'), 'utf8')) as {
    scripts: Record<string, string>;
  };
  const match = /^npm run (\S+) && exec node (\S+)$/.exec(pkg.scripts.start ?? '');
  if (!match) throw new Error(`unexpected start script: ${JSON.stringify(pkg.scripts.start)}`);
  return { build: match[1], entry: match[2] };
}

/** What the build needs: the package manifest, the tsconfigs, the library, its schemas, the sample. */
const PACKAGE_FILES = ['package.json', 'tsconfig.json', 'tsconfig.build.json', 'lib', 'iglu', 'viewer', 'sample-app'];

/**
 * A private copy of the package in a temporary directory, built by its own `npm start` build
 * script: the test neither rewrites the checkout's dist/ nor reads it while something else (a
 * developer's build, another test run) rewrites it. node_modules is a link to the checkout's.
 */
export async function buildPackageCopy(timeoutMs: number): Promise<{ dir: string; entry: string; remove(): void }> {
  const dir = mkdtempSync(path.join(tmpdir(), 'nestjs-snowplow-sample-'));
  const remove = () => rmSync(dir, { recursive: true, force: true });
  try {
    for (const name of PACKAGE_FILES) {
      cpSync(path.join(ROOT, name), path.join(dir, name), {
        recursive: true,
        filter: (source) => path.basename(source) !== 'dist',
      });
    }
    symlinkSync(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'), 'dir');
    const { build, entry } = startCommand(dir);
    await runNpmScript(dir, build, timeoutMs);
    return { dir, entry, remove };
  } catch (error) {
    remove();
    throw error;
  }
}

/** Runs an npm script in `cwd`; rejects with its output when it fails. */
function runNpmScript(cwd: string, script: string, timeoutMs: number): Promise<void> {
  // Under npm (npm test, npx jest) npm_execpath names npm's own CLI; else npm from PATH.
  const npmCli = process.env.npm_execpath;
  const [command, args] =
    npmCli && /npm-cli\.js$/.test(npmCli) ? [process.execPath, [npmCli, 'run', script]] : ['npm', ['run', script]];
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve();
      else reject(new Error(`npm run ${script} failed (${signal ?? `exit ${code}`}):\n${output}`));
    });
  });
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** The sample app as a child process, with everything it printed. */
export class SampleProcess {
  private output = '';
  private readonly watchers = new Set<() => void>();
  readonly exited: Promise<Exit>;

  private constructor(readonly child: ChildProcess) {
    const collect = (chunk: Buffer) => {
      this.output += chunk.toString();
      for (const watch of [...this.watchers]) watch();
    };
    child.stdout?.on('data', collect);
    child.stderr?.on('data', collect);
    this.exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
    void this.exited.then(() => [...this.watchers].forEach((watch) => watch()));
  }

  /** `node <entry>` in `cwd`, with `env` on top of this process's environment (undefined removes a variable). */
  static start(cwd: string, entry: string, env: Record<string, string | undefined>): SampleProcess {
    const merged: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' };
    for (const [key, value] of Object.entries(env)) {
      if (value === undefined) delete merged[key];
      else merged[key] = value;
    }
    return new SampleProcess(spawn(process.execPath, [entry], { cwd, env: merged, stdio: ['ignore', 'pipe', 'pipe'] }));
  }

  get text(): string {
    return this.output;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Resolves with the first match of `pattern` in the output; rejects on exit or after the deadline. */
  waitForOutput(pattern: RegExp, timeoutMs = 30_000): Promise<RegExpExecArray> {
    return new Promise((resolve, reject) => {
      const done = (error?: Error, match?: RegExpExecArray) => {
        clearTimeout(timer);
        this.watchers.delete(check);
        if (error) reject(error);
        else resolve(match as RegExpExecArray);
      };
      const check = () => {
        const match = pattern.exec(this.output);
        if (match) done(undefined, match);
        else if (!this.running) done(new Error(`the app exited before printing ${pattern}; output:\n${this.output}`));
      };
      const timer = setTimeout(
        () => done(new Error(`no ${pattern} within ${timeoutMs} ms; output:\n${this.output}`)),
        timeoutMs,
      );
      this.watchers.add(check);
      check();
    });
  }

  /** The app's base URL, from its startup log. */
  async appUrl(): Promise<string> {
    const [, port] = await this.waitForOutput(/Listening on http:\/\/localhost:(\d+)/);
    return `http://127.0.0.1:${port}`;
  }

  /** Sends `signal` and resolves with how the process ended; SIGKILL after the deadline. */
  async stop(signal: NodeJS.Signals, timeoutMs = 30_000): Promise<Exit> {
    this.child.kill(signal);
    const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }

  /** For afterEach: makes sure nothing is left running. */
  async kill(): Promise<void> {
    if (this.running) this.child.kill('SIGKILL');
    await this.exited;
  }
}
