#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { FileTokenSource } from '../auth/file-token-source';
import { parseCollectorUrl } from '../emitter/emitter-options';
import { InvalidOptionError, SnowplowError } from '../errors';
import { MAX_TIMER_MS } from '../utils/timers';
import { redactUrl } from '../utils/redact-url';
import { isTableReplay, runTableReplayCli, TABLE_USAGE } from './dead-table.cli';
import {
  DEFAULT_REPLAY_BATCH_SIZE,
  DEFAULT_REPLAY_CONCURRENCY,
  DEFAULT_REPLAY_TIMEOUT_MS,
  replayDeadLetters,
  ReplayDeadLettersResult,
} from './replay';

/** Where the CLI writes. */
export interface ReplayCliOutput {
  out(line: string): void;
  err(line: string): void;
}

const USAGE = `Usage: nestjs-snowplow-replay --collector URL FILE [--timeout-ms N] [--token-file PATH]
                              [--concurrency N] [--batch-size N]

Sends every event of a dead-letter file again, with its original eid, and removes the delivered
lines from the file; the other lines stay in it. Progress is kept in FILE.replay-journal, so a
replay that was killed is resumed by the next one. Run it on a file no running process is writing to.
  -c, --collector URL   the collector's tp2 endpoint, e.g. https://c.example.com/com.snowplowanalytics.snowplow/tp2
      --timeout-ms N    stop sending after N ms; what is left stays in the file (default ${DEFAULT_REPLAY_TIMEOUT_MS})
      --token-file PATH send the token in PATH as "Authorization: Bearer ..." (re-read when it changes)
      --concurrency N   requests in flight at once, 1 to 64 (default ${DEFAULT_REPLAY_CONCURRENCY})
      --batch-size N    most events per request, 1 to 1000 (default ${DEFAULT_REPLAY_BATCH_SIZE})
  -h, --help            show this text
Exit status: 0 when no line remains, 1 when any line remains or on an error, 2 on a usage error.`;

/** A command line the CLI cannot run. Code `REPLAY_USAGE`. */
export class ReplayCliUsageError extends SnowplowError {
  constructor(message: string) {
    super(message, 'REPLAY_USAGE');
  }
}

export interface ReplayCliOptions {
  collectorUrl: string;
  file: string;
  timeoutMs: number;
  tokenFile?: string;
  concurrency: number;
  batchSize: number;
  help: boolean;
}

/** An integer flag in `[min, max]`, or `fallback` when absent. */
function integerFlag(name: string, raw: string | undefined, min: number, max: number, fallback: number): number {
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!/^[0-9]+$/.test(raw) || value < min || value > max) {
    throw new ReplayCliUsageError(`--${name} must be an integer from ${min} to ${max}, got "${raw}"`);
  }
  return value;
}

/** Reads the command line; throws `ReplayCliUsageError` for anything it cannot run. */
export function parseReplayArgs(argv: readonly string[]): ReplayCliOptions {
  const { values, positionals } = readFlags(argv);
  const defaults = { concurrency: DEFAULT_REPLAY_CONCURRENCY, batchSize: DEFAULT_REPLAY_BATCH_SIZE };
  if (values.help) return { collectorUrl: '', file: '', timeoutMs: DEFAULT_REPLAY_TIMEOUT_MS, ...defaults, help: true };
  if (values.collector === undefined) throw new ReplayCliUsageError('--collector is required');
  try {
    parseCollectorUrl(values.collector, '--collector');
  } catch (err) {
    // The message names the option, never the URL (which may hold a password).
    throw new ReplayCliUsageError((err as Error).message);
  }
  if (positionals.length !== 1) {
    throw new ReplayCliUsageError(`expected one dead-letter FILE, got ${positionals.length}`);
  }
  return {
    collectorUrl: values.collector,
    file: positionals[0],
    timeoutMs: integerFlag('timeout-ms', values['timeout-ms'], 1, MAX_TIMER_MS, DEFAULT_REPLAY_TIMEOUT_MS),
    tokenFile: values['token-file'],
    concurrency: integerFlag('concurrency', values.concurrency, 1, 64, defaults.concurrency),
    batchSize: integerFlag('batch-size', values['batch-size'], 1, 1_000, defaults.batchSize),
    help: false,
  };
}

function readFlags(argv: readonly string[]) {
  try {
    return parseArgs({
      args: [...argv],
      allowPositionals: true,
      options: {
        collector: { type: 'string', short: 'c' },
        'timeout-ms': { type: 'string' },
        'token-file': { type: 'string' },
        concurrency: { type: 'string' },
        'batch-size': { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (error) {
    throw new ReplayCliUsageError((error as Error).message);
  }
}

/**
 * Runs a replay with command-line arguments and resolves with the exit status: 0 when no line
 * remains in the file, 1 when any does. Throws `ReplayCliUsageError` for a bad command line and
 * the replay's own errors (`StorageError`, ...) otherwise.
 */
export async function runReplayCli(argv: readonly string[], output: ReplayCliOutput): Promise<number> {
  if (isTableReplay(argv)) return runTableReplayCli(argv, output, (message) => new ReplayCliUsageError(message));
  const options = parseReplayArgs(argv);
  if (options.help) {
    output.out(`${USAGE}\n\n${TABLE_USAGE}`);
    return 0;
  }
  let tokenSource: FileTokenSource | undefined;
  try {
    tokenSource = options.tokenFile === undefined ? undefined : new FileTokenSource(options.tokenFile);
  } catch (err) {
    throw new ReplayCliUsageError(`--token-file ${(err as Error).message}`);
  }
  const collector = redactUrl(new URL(options.collectorUrl));
  const logger = { warn: (line: string) => output.err(line), error: (line: string) => output.err(line) };
  const { collectorUrl, timeoutMs, concurrency, batchSize } = options;
  const replay = replayDeadLetters(options.file, {
    collectorUrl,
    tokenSource,
    timeoutMs,
    concurrency,
    batchSize,
    logger,
  });
  const result = await replay.catch((err: unknown) => {
    // E.g. a token file combined with credentials in the URL.
    throw err instanceof InvalidOptionError ? new ReplayCliUsageError(err.message) : err;
  });
  output.out(summaryLine(options.file, collector, result));
  for (const line of advice(options.file, result)) output.err(line);
  return result.remaining === 0 ? 0 : 1;
}

const lines = (count: number) => (count === 1 ? '1 line' : `${count} lines`);
const stay = (count: number) => (count === 1 ? 'stays' : 'stay');
const them = (count: number) => (count === 1 ? 'it' : 'them');

/** One line: what was delivered and removed, and what stays in the file, by cause. */
export function summaryLine(file: string, collector: string, result: ReplayDeadLettersResult): string {
  const { total, delivered, remaining, resumed } = result;
  const earlier = resumed > 0 ? ` (${resumed} by an interrupted replay)` : '';
  const kinds = keptKinds(result)
    .map(([count, what]) => `${count} ${what}`)
    .join(', ');
  return (
    `${file}: ${delivered} of ${total} lines delivered to ${collector}${earlier} and removed; ` +
    `${remaining} kept in the file${kinds ? ` (${kinds})` : ''}`
  );
}

function keptKinds(result: ReplayDeadLettersResult): [number, string][] {
  const kinds: [number, string][] = [
    [result.unsent, 'not delivered in time'],
    [result.refused, 'refused by the collector'],
    [result.invalid, 'not dead-letter records'],
    [result.conflicts, 'sharing an eid with a different event'],
    [result.appended, 'appended meanwhile'],
  ];
  return kinds.filter(([count]) => count > 0);
}

/** What to do about the lines kept, one line per cause, each with the advice that fits it. */
export function advice(file: string, result: ReplayDeadLettersResult): string[] {
  const said: string[] = [];
  const { unsent, refused, invalid, conflicts, appended } = result;
  if (unsent > 0) {
    said.push(
      `${lines(unsent)} not delivered before the timeout ${stay(unsent)} in ${file}; run again later to retry them`,
    );
  }
  if (refused > 0) {
    said.push(
      `${lines(refused)} refused by the collector ${stay(refused)} in ${file}; running again will not help: inspect ${them(refused)} ` +
        `(see the errors above), then fix or remove ${them(refused)}`,
    );
  }
  if (invalid > 0) {
    const what =
      invalid === 1 ? '1 line that is not a dead-letter record' : `${invalid} lines that are not dead-letter records`;
    said.push(
      `${what} ${stay(invalid)} in ${file} as ${invalid === 1 ? 'it is' : 'they are'}; inspect, then fix or ` +
        `remove ${them(invalid)}`,
    );
  }
  if (conflicts > 0) {
    said.push(
      `${lines(conflicts)} sharing an eid with a different event ${stay(conflicts)} in ${file}, none sent; keep the right line ` +
        'of each eid, remove the others, and run again',
    );
  }
  if (appended > 0) {
    said.push(`${lines(appended)} appended while the replay ran ${stay(appended)} in ${file}; run again to send them`);
  }
  return said;
}

// Stryker disable all: main() runs only in the child process of replay-cli.spec.ts, which the
// mutation run cannot instrument; runReplayCli above holds everything it does but the exit code.
async function main(): Promise<void> {
  const output: ReplayCliOutput = { out: (line) => console.log(line), err: (line) => console.error(line) };
  try {
    process.exitCode = await runReplayCli(process.argv.slice(2), output);
  } catch (error) {
    const usage = error instanceof ReplayCliUsageError;
    const message = error instanceof Error ? error.message : String(error);
    output.err(usage ? `${message}\n\n${USAGE}` : message);
    process.exitCode = usage ? 2 : 1;
  }
}

if (require.main === module) void main();
