/** Starts the measured processes and talks to them (parent side; the child side is ./child.ts). */
import { ChildProcess, fork } from 'node:child_process';
import { join } from 'node:path';
import { BUILD_DIR } from '../build';

export interface Message {
  type: string;
  [key: string]: unknown;
}

export interface ChildOptions {
  /** Adds --expose-gc. */
  exposeGc?: boolean;
  /**
   * Runs the script with this program instead of node (e.g. valgrind); `execArgv` then comes
   * before the script and must name node itself (bench/support/callgrind.ts).
   */
  execPath?: string;
  /** Replaces the node flags (--expose-gc, BENCH_NODE_FLAGS). */
  execArgv?: string[];
}

const CHILDREN = join(BUILD_DIR, 'children');

/** Extra node flags for every measured child, from BENCH_NODE_FLAGS (e.g. "--cpu-prof --cpu-prof-dir=/tmp/p"). */
function flagsFromEnv(): string[] {
  const raw = process.env.BENCH_NODE_FLAGS?.trim();
  return raw ? raw.split(/\s+/) : [];
}

/**
 * One measured child process (a script in bench/children, run from its build in bench/.build
 * under plain node: see build.ts) with a message channel. Its stdout goes to our stderr, so the
 * orchestrator's stdout carries only the results table.
 */
export class Child {
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private readonly proc: ChildProcess;
  private readonly inbox: Message[] = [];
  private readonly waiting: Array<{ type: string; resolve: (m: Message) => void; reject: (e: Error) => void }> = [];
  private exitInfo?: { code: number | null; signal: NodeJS.Signals | null };

  constructor(script: string, params: unknown, options: ChildOptions = {}) {
    const execArgv = options.execArgv ?? [...(options.exposeGc ? ['--expose-gc'] : []), ...flagsFromEnv()];
    this.proc = fork(join(CHILDREN, script.replace(/\.ts$/, '.js')), [JSON.stringify(params ?? {})], {
      execArgv,
      ...(options.execPath ? { execPath: options.execPath } : {}),
      stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
    });
    this.proc.stdout?.on('data', (chunk: Buffer) => process.stderr.write(chunk));
    this.proc.on('message', (message: Message) => this.deliver(message));
    this.exited = new Promise((resolve) => {
      this.proc.on('exit', (code, signal) => {
        this.exitInfo = { code, signal };
        const why = new Error(`${script} exited (code ${code}, signal ${signal}) before sending the expected message`);
        for (const w of this.waiting.splice(0)) w.reject(why);
        resolve({ code, signal });
      });
    });
  }

  /** The next message of this type (buffered if it already came). */
  next<T extends { type: string } = Message>(type: string, timeoutMs = 300_000): Promise<T> {
    const index = this.inbox.findIndex((m) => m.type === type);
    if (index !== -1) return Promise.resolve(this.inbox.splice(index, 1)[0] as unknown as T);
    if (this.exitInfo) return Promise.reject(new Error(`child exited (code ${this.exitInfo.code}) before '${type}'`));
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting for '${type}' from child`)), timeoutMs);
      this.waiting.push({
        type,
        resolve: (m) => {
          clearTimeout(timer);
          resolve(m as unknown as T);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
    });
  }

  get pid(): number | undefined {
    return this.proc.pid;
  }

  send(message: Message): void {
    this.proc.send(message);
  }

  kill(signal: NodeJS.Signals): void {
    this.proc.kill(signal);
  }

  /** Waits for exit; kills the child (by its own pid) if it outlives `timeoutMs`. */
  async close(timeoutMs = 30_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), timeoutMs);
    const info = await this.exited;
    clearTimeout(timer);
    return info;
  }

  private deliver(message: Message): void {
    const index = this.waiting.findIndex((w) => w.type === message.type);
    if (index !== -1) this.waiting.splice(index, 1)[0].resolve(message);
    else this.inbox.push(message);
  }
}

/** Runs a child to completion and returns its `result` message. */
export async function runChild<T extends { type: string }>(
  script: string,
  params: unknown,
  options: ChildOptions = {},
): Promise<T> {
  const child = new Child(script, params, options);
  try {
    const result = await child.next<T>('result');
    const exit = await child.close();
    if (exit.code !== 0) throw new Error(`${script} exited with code ${exit.code}`);
    return result;
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
}
