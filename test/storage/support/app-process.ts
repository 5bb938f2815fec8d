// A child process running one of test/fixtures/apps/*.ts with @swc-node/register, as the outbox
// process suites start them: its output collected, its exit awaited, its stdin open for commands.
import { ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { join } from 'node:path';
import { waitFor } from '../../support/wait-for';

const ROOT = join(__dirname, '../../..');

export interface AppProcess {
  readonly child: ChildProcessWithoutNullStreams;
  /** stdout and stderr so far, interleaved. */
  output(): string;
  /** Resolves with the exit code (null after a signal). */
  readonly exited: Promise<number | null>;
  /** Waits until the output holds `text`. */
  waitForOutput(text: string, timeoutMs?: number): Promise<void>;
  /** Writes a command line to its stdin. */
  send(command: string): void;
}

/**
 * Starts `test/fixtures/apps/<script>` in `cwd` (the project root by default) with `env` added;
 * `onLine` hears each complete line of its stdout.
 */
export function startApp(
  script: string,
  env: Record<string, string>,
  cwd = ROOT,
  onLine?: (line: string) => void,
): AppProcess {
  // By its resolved path: `-r` resolves from the working directory, which may be outside the project.
  const register = require.resolve('@swc-node/register', { paths: [ROOT] });
  const child = spawn(process.execPath, ['-r', register, join(ROOT, 'test/fixtures/apps', script)], {
    cwd,
    // @swc-node/register reads the project's tsconfig from the working directory.
    env: { ...process.env, SWC_NODE_PROJECT: join(ROOT, 'tsconfig.json'), ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let output = '';
  let partial = '';
  child.stdout.on('data', (chunk) => {
    output += chunk;
    if (!onLine) return;
    const lines = (partial + chunk).split('\n');
    partial = lines.pop() as string;
    for (const line of lines) onLine(line);
  });
  child.stderr.on('data', (chunk) => (output += chunk));
  // A child killed while we write to it must not fail the test with EPIPE.
  child.stdin.on('error', () => undefined);
  let ended = false;
  const exited = new Promise<number | null>((resolve) =>
    child.on('exit', (code) => {
      ended = true;
      resolve(code);
    }),
  );
  return {
    child,
    output: () => output,
    exited,
    waitForOutput: async (text, timeoutMs = 45_000) => {
      await waitFor(
        () => {
          if (output.includes(text)) return true;
          if (ended) throw new Error(`${script} exited without printing "${text}"; its output:\n${output}`);
          return false;
        },
        { timeoutMs, what: `"${text}" from ${script}` },
      );
    },
    send: (command) => {
      child.stdin.write(`${command}\n`);
    },
  };
}
