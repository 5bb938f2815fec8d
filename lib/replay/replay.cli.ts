#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { FileTokenSource } from '../auth/file-token-source';
import { parseCollectorUrl } from '../emitter/emitter-options';
import { InvalidOptionError, SnowplowError } from '../errors';
import { MAX_TIMER_MS } from '../utils/timers';
import { redactUrl } from '../utils/redact-url';
import { DEFAULT_REPLAY_TIMEOUT_MS, replayDeadLetters } from './replay';

/** Where the CLI writes. */
export interface ReplayCliOutput {
  out(line: string): void;
  err(line: string): void;
}

const USAGE = `Usage: nestjs-snowplow-replay --collector URL FILE [--timeout-ms N] [--token-file PATH]

Sends every event of a dead-letter file again, with its original eid, and removes the delivered
lines from the file. Run it on a file no running process is writing to.
  -c, --collector URL   the collector's tp2 endpoint, e.g. https://c.example.com/com.snowplowanalytics.snowplow/tp2
      --timeout-ms N    give up on what is left after N ms (default ${DEFAULT_REPLAY_TIMEOUT_MS})
      --token-file PATH send the token in PATH as "Authorization: Bearer ..." (re-read when it changes)
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
  help: boolean;
}

/** Reads the command line; throws `ReplayCliUsageError` for anything it cannot run. */
export function parseReplayArgs(argv: readonly string[]): ReplayCliOptions {
  const { values, positionals } = readFlags(argv);
  if (values.help) return { collectorUrl: '', file: '', timeoutMs: DEFAULT_REPLAY_TIMEOUT_MS, help: true };
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
  const rawTimeout = values['timeout-ms'];
  const timeoutMs = rawTimeout === undefined ? DEFAULT_REPLAY_TIMEOUT_MS : Number(rawTimeout);
  if (rawTimeout !== undefined && (!/^[0-9]+$/.test(rawTimeout) || timeoutMs < 1 || timeoutMs > MAX_TIMER_MS)) {
    throw new ReplayCliUsageError(`--timeout-ms must be an integer from 1 to ${MAX_TIMER_MS}, got "${rawTimeout}"`);
  }
  const tokenFile = values['token-file'];
  return { collectorUrl: values.collector, file: positionals[0], timeoutMs, tokenFile, help: false };
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
  const options = parseReplayArgs(argv);
  if (options.help) {
    output.out(USAGE);
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
  const { collectorUrl, timeoutMs } = options;
  const replay = replayDeadLetters(options.file, { collectorUrl, tokenSource, timeoutMs, logger });
  const result = await replay.catch((err: unknown) => {
    // E.g. a token file combined with credentials in the URL.
    throw err instanceof InvalidOptionError ? new ReplayCliUsageError(err.message) : err;
  });
  const { total, delivered, remaining, invalid } = result;
  output.out(
    `${options.file}: ${delivered} of ${total} lines delivered to ${collector}, ` +
      `${remaining} remaining (${invalid} not dead-letter records)`,
  );
  if (remaining > 0) {
    const lines = remaining === 1 ? '1 line remains' : `${remaining} lines remain`;
    output.err(`${lines} in ${options.file}; run again later to retry them`);
  }
  return remaining === 0 ? 0 : 1;
}

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
