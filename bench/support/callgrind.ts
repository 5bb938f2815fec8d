/**
 * Runs a bench child under `valgrind --tool=callgrind` and reads the instructions it executed
 * (callgrind's total `Ir`: user-space instructions of that one process, whatever the machine's
 * load). Used by `npm run bench:instructions` (bench/instructions.ts).
 *
 * The child is the measured process itself: `valgrind [callgrind options] node --single-threaded
 * <child> <params>`, forked with an IPC channel like any other bench child (bench/support/spawn.ts).
 * `--trace-children=no`: nothing it might start is counted. Only whole-process totals are read (no
 * `--toggle-collect`): every figure is the difference of two such totals, so start-up and exit cancel.
 */
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Child } from './spawn';

export const VALGRIND = process.env.VALGRIND ?? 'valgrind';
/** Comes with valgrind: asks a running callgrind to dump its counts. */
const CALLGRIND_CONTROL = process.env.CALLGRIND_CONTROL ?? 'callgrind_control';

/**
 * Node flags of every measured process: no GC helper or compiler threads; V8's predictable GC
 * schedule and no memory reducer (both otherwise time GCs by the wall clock and by measured
 * throughput, so a slow or loaded run would count other GCs: with them, an interval of 10,000 track
 * calls counted ~134 million instructions one run and ~104 million the next); `gc()` so that a
 * per-trackEvent child starts each measured interval from a collected heap (the delivery and request
 * children do not: see bench/README.md). INSTR_NODE_FLAGS adds more.
 */
export const NODE_FLAGS = [
  '--single-threaded',
  '--predictable-gc-schedule',
  '--no-memory-reducer',
  '--expose-gc',
  ...(process.env.INSTR_NODE_FLAGS?.trim().split(/\s+/) ?? []),
];

/**
 * INSTR_KEEP_DUMPS=dir: keep every measured process's callgrind files (one per interval) in
 * `dir/<script>-<pid>/`, to see with `callgrind_annotate` what an interval spent its instructions on.
 */
const KEEP_DUMPS = process.env.INSTR_KEEP_DUMPS?.trim();

/** The valgrind version, e.g. `valgrind-3.19.0`; undefined when it is not installed. */
export function valgrindVersion(): string | undefined {
  const result = spawnSync(VALGRIND, ['--version'], { encoding: 'utf8' });
  return result.status === 0 ? result.stdout.trim() : undefined;
}

/**
 * Makes sure valgrind is there: when it is missing, installs Debian's package with apt-get (as
 * root, or through sudo when it is available) and says so on stderr. Throws when that fails.
 */
export function ensureValgrind(log: (message: string) => void): string {
  const found = valgrindVersion();
  if (found) return found;
  log('valgrind is not installed: installing it with `apt-get install -y valgrind` (Debian package)');
  const asRoot = process.getuid?.() === 0;
  const sudo = asRoot ? [] : ['sudo', '-n'];
  const run = (args: string[]) => {
    const [cmd, ...rest] = [...sudo, ...args];
    execFileSync(cmd, rest, {
      stdio: ['ignore', 'inherit', 'inherit'],
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
  };
  try {
    run(['apt-get', 'install', '-y', 'valgrind']);
  } catch {
    // A fresh machine may have no package lists yet.
    run(['apt-get', 'update']);
    run(['apt-get', 'install', '-y', 'valgrind']);
  }
  const installed = valgrindVersion();
  if (!installed)
    throw new Error('valgrind could not be installed; install it (apt-get install valgrind) and run again');
  log(`installed ${installed}`);
  return installed;
}

/** What callgrind counted in one interval. */
export interface Count {
  /** All user-space instructions of the process (callgrind's `totals`). */
  ir: number;
  /**
   * Of those, the instructions inside V8's optimising compiler (TurboFan): the inclusive cost of
   * every call into `v8::internal::Runtime_CompileOptimized*` (OSR included). With
   * `--single-threaded` it compiles on the main thread, when a function gets hot enough.
   */
  compileIr: number;
}

/** The runtime entry of TurboFan compilation (`Runtime_CompileOptimized`, `Runtime_CompileOptimizedOSR`). */
const COMPILE_ENTRY = /^v8::internal::Runtime_CompileOptimized/;

/**
 * Reads a callgrind output file: its total Ir and the inclusive Ir of the calls into the
 * optimising compiler. The format names functions once (`fn=(id) name`) and then by id alone; a
 * `calls=` line is followed by the call's cost line, whose second field is its inclusive Ir.
 */
export function readCount(file: string): Count {
  const text = readFileSync(file, 'utf8');
  const match = /^(?:totals|summary):\s+(\d+)/m.exec(text);
  if (!match) throw new Error(`no totals line in ${file}`);
  const names = new Map<string, string>();
  const name = (value: string): string => {
    const ref = /^\((\d+)\)(?:\s+(.*))?$/.exec(value.trim());
    if (!ref) return value.trim();
    if (ref[2] !== undefined) names.set(ref[1], ref[2]);
    return names.get(ref[1]) ?? '';
  };
  let caller = '';
  let callee = '';
  let callCost = false;
  let compileIr = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith('fn=')) caller = name(line.slice(3));
    else if (line.startsWith('cfn=')) callee = name(line.slice(4));
    else if (line.startsWith('calls=')) callCost = true;
    else if (callCost && /^[0-9+*-]/.test(line)) {
      callCost = false;
      if (COMPILE_ENTRY.test(callee) && !COMPILE_ENTRY.test(caller)) compileIr += Number(line.split(/\s+/)[1]);
    }
  }
  return { ir: Number(match[1]), compileIr };
}

/**
 * A child under callgrind. `dump()` has callgrind write the instructions counted since the last
 * dump (or the start) and zero its counters (`callgrind_control -d`, through valgrind's gdbserver),
 * so one process yields the count of each interval between dumps; `finish()` waits for its exit.
 */
export class CallgrindChild {
  readonly child: Child;
  private readonly dir: string;
  private readonly outFile: string;
  private dumps = 0;

  constructor(
    private readonly script: string,
    params: unknown,
  ) {
    this.dir = mkdtempSync(join(tmpdir(), 'bench-callgrind-'));
    this.outFile = join(this.dir, 'callgrind.out');
    this.child = new Child(script, params, {
      execPath: VALGRIND,
      execArgv: [
        '--tool=callgrind',
        '--trace-children=no',
        `--callgrind-out-file=${this.outFile}`,
        '-q',
        process.execPath,
        ...NODE_FLAGS,
      ],
    });
  }

  /** Instructions since the previous dump (or the start); the counters start again from zero. */
  async dump(): Promise<Count> {
    const pid = this.child.pid;
    if (pid === undefined) throw new Error('the measured process has no pid');
    await new Promise<void>((resolveDump, reject) => {
      execFile(CALLGRIND_CONTROL, ['-d', String(pid)], { timeout: 600_000 }, (err, stdout, stderr) => {
        if (err) reject(new Error(`callgrind_control -d ${pid} failed: ${err.message} ${stdout} ${stderr}`.trim()));
        else resolveDump();
      });
    });
    this.dumps++;
    return readCount(`${this.outFile}.${this.dumps}`);
  }

  /** Waits for the child to exit (0 expected) and returns the count since the last dump. */
  async finish(timeoutMs = 1_800_000): Promise<Count> {
    try {
      const exit = await this.child.close(timeoutMs);
      if (exit.code !== 0) throw new Error(`measured process exited with code ${exit.code} (signal ${exit.signal})`);
      return readCount(this.outFile);
    } finally {
      this.keep();
      rmSync(this.dir, { recursive: true, force: true });
    }
  }

  kill(): void {
    this.child.kill('SIGKILL');
    this.keep();
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** INSTR_KEEP_DUMPS: copies the callgrind files out before they are removed. */
  private keep(): void {
    if (!KEEP_DUMPS) return;
    const to = join(KEEP_DUMPS, `${this.script.replace(/\.ts$/, '')}-${this.child.pid ?? 'unknown'}`);
    mkdirSync(to, { recursive: true });
    cpSync(this.dir, to, { recursive: true });
  }
}

/** A child's interval marks (bench/support/child.ts `mark()`): the instructions of each, in order. */
export interface Interval extends Count {
  label: string;
}

/**
 * Runs a child to completion under callgrind. Each time it sends `{ type: 'mark', label }` and
 * waits (idle), the interval since its previous mark is dumped and counted, then it is told to go
 * on. Returns its `result` message and the intervals.
 */
export async function runUnderCallgrind<T extends { type: string }>(
  script: string,
  params: unknown,
): Promise<{ result: T; intervals: Interval[] }> {
  const measured = new CallgrindChild(script, params);
  const intervals: Interval[] = [];
  try {
    let result: T | undefined;
    const resultMessage = measured.child.next<T>('result', 3_600_000).then((r) => (result = r));
    for (;;) {
      const nextMark = measured.child.next<{ type: 'mark'; label: string }>('mark', 3_600_000);
      nextMark.catch(() => undefined); // the last one is still waiting when the child exits
      const mark = await Promise.race([nextMark, resultMessage]);
      if (result) break;
      const { label } = mark as { label: string };
      intervals.push({ label, ...(await measured.dump()) });
      measured.child.send({ type: 'go' });
    }
    await measured.finish();
    return { result: result as T, intervals };
  } catch (err) {
    measured.kill();
    throw err;
  }
}
