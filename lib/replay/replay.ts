import {
  closeSync,
  fchmodSync,
  fsyncSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { dirname, resolve } from 'node:path';
import { types } from 'node:util';
import type { TokenSource } from '../auth/token-source.interface';
import { Emitter } from '../emitter/emitter';
import { parseCollectorUrl } from '../emitter/emitter-options';
import { checkInteger } from '../validation';
import type { EmitterLogger, SendResult } from '../emitter/send-result';
import { EventTooLargeError, InvalidOptionError, StorageError } from '../errors';
import type { TrackedPayload } from '../tracker/payload';
import { MAX_TIMER_MS } from '../utils/timers';
import { isPlainObject } from '../utils/values';

/** Options of `replayDeadLetters(file, options)`. */
export interface ReplayDeadLettersOptions {
  /** The collector's full tp2 endpoint. Credentials in it are sent as Basic auth and never printed. */
  collectorUrl: string;
  /** Adds `Authorization` to each request, as for the emitter. */
  tokenSource?: TokenSource;
  /** How long to keep sending before giving up on what is left, ms. Default 60,000. */
  timeoutMs?: number;
  /** Receives the emitter's warnings and errors. Default: console, prefixed `[nestjs-snowplow]`. */
  logger?: EmitterLogger;
}

/** What a replay did, in lines of the file. */
export interface ReplayDeadLettersResult {
  /** Non-blank lines read. */
  total: number;
  /** Lines removed because the collector accepted their event (2xx). */
  delivered: number;
  /** Non-blank lines the file holds afterwards: undelivered, invalid, and any appended meanwhile. */
  remaining: number;
  /** Lines read that are not dead-letter records; kept as they are. */
  invalid: number;
}

export const DEFAULT_REPLAY_TIMEOUT_MS = 60_000;

/** One request per event: an event the collector keeps refusing holds back no other. */
const REPLAY_BATCH_SIZE = 1;
const REPLAY_CONCURRENT_REQUESTS = 8;
/** Rewrites retried when lines keep arriving while the new file is written. */
const MAX_REWRITE_ATTEMPTS = 5;
const FILE_MODE = 0o600;
const NEWLINE = 0x0a;

const consoleLogger: EmitterLogger = {
  warn: (message) => console.warn(`[nestjs-snowplow] ${message}`),
  error: (message) => console.error(`[nestjs-snowplow] ${message}`),
};

interface ReadLine {
  /** The line's bytes, without its newline, exactly as read. */
  bytes: Buffer;
  /** The event to send; undefined for a line that is not a record. */
  event?: TrackedPayload;
}

/** The message of an error, from any realm (fs errors inside a vm context are not `instanceof Error`). */
function errorMessage(err: unknown): string {
  return err instanceof Error || types.isNativeError(err) ? err.message : String(err);
}

/**
 * Sends every dead-letter record of `file` again, with its original `eid`, `dtm` and payload (and
 * a fresh `stm`), then rewrites the file atomically without the lines the collector accepted.
 *
 * Events go one per request, up to 8 at a time, retried with the emitter's backoff until all are
 * accepted or `timeoutMs` passes. Only a 2xx removes a line. Lines that are not records are kept
 * untouched and counted as invalid; lines appended while the replay runs are kept. The rewrite
 * writes `<file>.<pid>.tmp` (mode 0600), fsyncs it, renames it over the file and fsyncs the
 * directory. Run it on a file no running process is writing to: a line appended between the last
 * check and the rename would be lost with the old file.
 *
 * Throws `InvalidOptionError` for bad options and `StorageError` when the file cannot be read or
 * rewritten, or changed during the replay other than by appending (it is then left as it is, and
 * its delivered lines will be sent again by the next replay).
 */
export async function replayDeadLetters(
  file: string,
  options: ReplayDeadLettersOptions,
): Promise<ReplayDeadLettersResult> {
  if (typeof file !== 'string' || file.trim() === '') {
    throw new InvalidOptionError('file', 'must be a non-empty string (the dead-letter file)');
  }
  if (options === null || typeof options !== 'object') throw new InvalidOptionError('options', 'must be an object');
  parseCollectorUrl(options.collectorUrl);
  const timeoutMs = checkInteger(
    'timeoutMs',
    options.timeoutMs,
    { min: 1, max: MAX_TIMER_MS },
    DEFAULT_REPLAY_TIMEOUT_MS,
  );
  const path = resolve(file);
  const logger = options.logger ?? consoleLogger;

  const original = readWhole(path);
  const lines = splitLines(original).map((bytes): ReadLine => ({ bytes, event: readRecord(bytes) }));
  const invalid = lines.filter((line) => !line.event).length;
  const delivered = await send(lines, options, timeoutMs, logger);

  const isDelivered = (line: ReadLine) => line.event !== undefined && delivered.has(line.event.eid);
  const kept = lines.filter((line) => !isDelivered(line)).map((line) => line.bytes);
  const removed = lines.length - kept.length;
  const summary = `${removed} of its ${lines.length} lines were delivered`;
  // Nothing to remove: the file stays as it is, whatever else happened to it.
  const remaining = removed === 0 ? splitLines(readWhole(path)).length : rewrite(path, original, kept, summary, logger);
  return { total: lines.length, delivered: removed, remaining, invalid };
}

/** Sends the events of the valid lines (each eid once); resolves with the eids accepted with a 2xx. */
async function send(
  lines: readonly ReadLine[],
  options: ReplayDeadLettersOptions,
  timeoutMs: number,
  logger: EmitterLogger,
): Promise<Set<string>> {
  const delivered = new Set<string>();
  const events = new Map<string, TrackedPayload>();
  for (const { event } of lines) if (event && !events.has(event.eid)) events.set(event.eid, event);
  if (events.size === 0) return delivered;

  const emitter = new Emitter({
    collectorUrl: options.collectorUrl,
    tokenSource: options.tokenSource,
    logger: options.logger,
    storage: { type: 'memory', capacity: events.size },
    lingerMs: 0,
    batchSize: REPLAY_BATCH_SIZE,
    // One event per request, backlog or not: batches must not grow past batchSize here.
    maxBatchSize: REPLAY_BATCH_SIZE,
    maxConcurrentRequests: REPLAY_CONCURRENT_REQUESTS,
    callback: (successes: SendResult[]) => {
      // Only a 2xx delivered the event (the emitter retries 3xx today): checked here, so that a
      // line is never removed from the file on any other answer.
      for (const result of successes) {
        if (result.statusCode >= 200 && result.statusCode < 300) for (const eid of result.eids) delivered.add(eid);
      }
    },
  });
  try {
    for (const event of events.values()) {
      try {
        emitter.enqueue(event);
      } catch (err) {
        if (!(err instanceof EventTooLargeError)) throw err;
        safeLog(() => logger.error(`dead letter ${event.eid} is too large to send (${err.message}); its line is kept`));
      }
    }
    emitter.start();
    await emitter.drain(timeoutMs);
  } finally {
    await emitter.stop();
  }
  return delivered;
}

/**
 * The event of one line, or undefined when the line is not a record that can be sent as it was:
 * a JSON object with a non-empty `eid` and a `payload` of strings whose `e` is set, whose `eid`
 * matches and whose `dtm` is a timestamp in ms. A `stm` in the payload is dropped.
 */
function readRecord(bytes: Buffer): TrackedPayload | undefined {
  let record: unknown;
  try {
    record = JSON.parse(bytes.toString('utf8'));
  } catch {
    return undefined;
  }
  if (!isPlainObject(record) || !isPlainObject(record.payload)) return undefined;
  const { eid, kind } = record;
  const entries = Object.entries(record.payload).filter(([key]) => key !== 'stm');
  if (typeof eid !== 'string' || eid === '' || entries.some(([, value]) => typeof value !== 'string')) return undefined;
  // Object.fromEntries defines own properties, so even a "__proto__" key stays a plain field.
  const payload = Object.fromEntries(entries) as Record<string, string>;
  if (payload.eid !== eid || !payload.e || !/^[0-9]{1,15}$/.test(payload.dtm ?? '')) return undefined;
  return {
    kind: kind === 'custom' || kind === 'billing' ? kind : payload.e === 'se' ? 'billing' : 'custom',
    eid,
    dtm: Number(payload.dtm),
    json: JSON.stringify(payload),
  };
}

/** The file's bytes; `StorageError` naming the file when it cannot be read. */
function readWhole(path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new StorageError(path, `cannot read the dead-letter file: ${errorMessage(err)}`);
  }
}

/** Non-blank lines, as byte slices without their newline (so a line that is not UTF-8 survives as it is). */
function splitLines(data: Buffer): Buffer[] {
  const lines: Buffer[] = [];
  let start = 0;
  while (start < data.length) {
    let end = data.indexOf(NEWLINE, start);
    if (end === -1) end = data.length;
    const line = data.subarray(start, end);
    if (line.toString('utf8').trim() !== '') lines.push(line);
    start = end + 1;
  }
  return lines;
}

/**
 * The file's lines now: `kept` (from what was read) plus any appended since. Throws when the file
 * changed other than by appending, so that nothing is written over it.
 */
function keptWithAppended(path: string, original: Buffer, kept: Buffer[], summary: string): Buffer[] {
  const current = readWhole(path);
  if (current.length < original.length || !current.subarray(0, original.length).equals(original)) {
    throw new StorageError(
      path,
      `changed during the replay other than by appending lines (${summary}); left as it is, so its ` +
        'delivered lines will be sent again by the next replay. Replay only files no process is writing to',
    );
  }
  return [...kept, ...splitLines(current.subarray(original.length))];
}

/** Replaces the file atomically by `kept` plus the lines appended meanwhile; returns how many lines it holds. */
function rewrite(path: string, original: Buffer, kept: Buffer[], summary: string, logger: EmitterLogger): number {
  const tmp = `${path}.${process.pid}.tmp`;
  for (let attempt = 1; ; attempt++) {
    const sizeBefore = statSize(path);
    const lines = keptWithAppended(path, original, kept, summary);
    writeDurably(tmp, lines, summary);
    // A line appended while the new file was written goes round again rather than being lost.
    if (statSize(path) !== sizeBefore) {
      rmSync(tmp, { force: true });
      if (attempt < MAX_REWRITE_ATTEMPTS) continue;
      throw new StorageError(
        path,
        `kept growing during the rewrite (${summary}); left as it is. Replay only files no process is writing to`,
      );
    }
    try {
      renameSync(tmp, path);
    } catch (err) {
      rmSync(tmp, { force: true });
      throw new StorageError(path, `cannot rename ${tmp} over it (${summary}); left as it is: ${errorMessage(err)}`);
    }
    fsyncDirectory(dirname(path), logger);
    return lines.length;
  }
}

function statSize(path: string): number {
  try {
    return statSync(path).size;
  } catch (err) {
    throw new StorageError(path, `cannot read the dead-letter file: ${errorMessage(err)}`);
  }
}

/** Writes a new file with mode 0600 and fsyncs it; removes it again on failure. */
function writeDurably(tmp: string, lines: readonly Buffer[], summary: string): void {
  let fd: number | undefined;
  try {
    rmSync(tmp, { force: true });
    fd = openSync(tmp, 'wx', FILE_MODE);
    // The umask may have taken bits away from the mode above; set exactly owner read and write.
    fchmodSync(fd, FILE_MODE);
    writeFileSync(fd, Buffer.concat(lines.flatMap((line) => [line, Buffer.from([NEWLINE])])));
    fsyncSync(fd);
    closeSync(fd);
  } catch (err) {
    if (fd !== undefined) closeQuietly(fd);
    rmSync(tmp, { force: true });
    const reason = `cannot write the rewritten dead-letter file (${summary}); the file is left as it is`;
    throw new StorageError(tmp, `${reason}: ${errorMessage(err)}`);
  }
}

/** Makes the rename durable. Some platforms cannot fsync a directory; that is logged, not fatal. */
function fsyncDirectory(dir: string, logger: EmitterLogger): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch (err) {
    safeLog(() => logger.warn(`could not fsync the directory ${dir} after the rewrite: ${errorMessage(err)}`));
  } finally {
    if (fd !== undefined) closeQuietly(fd);
  }
}

/** A throwing custom logger must not break the replay. */
function safeLog(log: () => void): void {
  try {
    log();
  } catch {
    // Nothing left to report it to.
  }
}

function closeQuietly(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // Already failing; the first error is the one reported.
  }
}
