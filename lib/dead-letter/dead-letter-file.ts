import { appendFileSync, closeSync, constants, fstatSync, fsyncSync, openSync, readSync } from 'node:fs';
import { resolve } from 'node:path';
import { inspect, types } from 'node:util';
import { DeadLetterModeError, DeadLetterSymlinkError, InvalidOptionError, StorageError } from '../errors';
import type { QueuedEvent } from '../storage/queued-event';
import { onProcessExit } from '../utils/exit-hooks';
import { DeadLetterReason, DeadLetterRecord } from './dead-letter-record';

/** Where a dead-letter file reports lines it could not write. */
export interface DeadLetterLogger {
  error(message: string): void;
}

export interface DeadLetterFileOptions {
  /** Receives every line that could not be written, in full. Default: console.error, prefixed. */
  logger?: DeadLetterLogger;
  /**
   * Called with the number of lines each failed write could not put on disk (for a metric). A
   * throw is ignored.
   */
  onWriteFailure?: (count: number) => void;
}

/** What went wrong with an event, for {@link deadLetterRecord}. */
export interface DeadLetterCause {
  /** The collector's answer, when there was one. */
  statusCode?: number;
  /** What went wrong, in words; never a credential. */
  error: string;
}

/** Owner read and write only: the lines hold user and instance ids. */
const FILE_MODE = 0o600;
/** Group and other permission bits: a regular dead-letter file with any of them is refused. */
const GROUP_OTHER_BITS = 0o077;
/**
 * Read (for the last byte), append, create; never through a symlink at the last path component.
 * Devices (`/dev/null`, `/dev/full`) open as they are.
 */
const OPEN_FLAGS = constants.O_RDWR | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW;
const NEWLINE = 0x0a;

const consoleLogger: DeadLetterLogger = {
  error: (message) => console.error(`[nestjs-snowplow] ${message}`),
};

/** The message of an error, from any realm (fs errors inside a vm context are not `instanceof Error`). */
function errorMessage(err: unknown): string {
  return err instanceof Error || types.isNativeError(err) ? err.message : String(err);
}

/**
 * Builds the dead-letter record of a queued event. `payload` is the event's payload_data item
 * without `stm`; an unset `kind` means `custom`. Never throws: should `json` not be a JSON object,
 * the payload is left empty and the text goes into `error`, so the line is still written (and a
 * replay keeps it as an invalid line).
 */
export function deadLetterRecord(
  event: QueuedEvent,
  reason: DeadLetterReason,
  cause: DeadLetterCause,
  now: number | Date = Date.now(),
): DeadLetterRecord {
  let payload: Record<string, string> = {};
  let error = cause.error;
  try {
    const parsed: unknown = JSON.parse(event.json);
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not a JSON object');
    payload = parsed as Record<string, string>;
    delete payload.stm;
  } catch (err) {
    error = `${error}; payload unreadable (${errorMessage(err)}): ${event.json}`;
  }
  const at = new Date(now);
  return {
    eid: event.eid,
    kind: event.kind ?? 'custom',
    reason,
    ...(cause.statusCode === undefined ? {} : { statusCode: cause.statusCode }),
    error,
    at: (Number.isNaN(at.getTime()) ? new Date() : at).toISOString(),
    attempts: event.attempts,
    payload,
  };
}

/**
 * An append-only JSONL file of {@link DeadLetterRecord}s: events the emitter gave up on, kept for
 * `replayDeadLetters` or a person to deal with.
 *
 * `append` is synchronous and never throws. Lines are written once per event-loop tick, all of a
 * tick in one `O_APPEND` write followed by fsync; the file is opened for each write, so a replay
 * that renames a new file over it never strands lines on the old one. Queued lines are also written
 * when the process exits (`process.exit()`, an uncaught exception or unhandled rejection), not on
 * `kill -9`. A line that cannot be written (disk full, permissions) is logged in full at error
 * level, then dropped from memory; `appendNow` instead tells the caller, who keeps the event.
 *
 * The file is opened with `O_NOFOLLOW`: a symbolic link at the path is refused
 * (`DeadLetterSymlinkError`), never followed. A regular file that its group or others may access
 * is refused too (`DeadLetterModeError`), at construction and at each write; a device
 * (`/dev/null`) is not mode-checked.
 */
export class DeadLetterFile {
  /** Absolute path of the file. */
  readonly path: string;
  private readonly logger: DeadLetterLogger;
  private pending: string[] = [];
  private scheduled?: NodeJS.Immediate;
  /** After `close()` or once the process is exiting, lines are written at once. */
  private writeAtOnce = false;
  private readonly unregister: () => void;
  private readonly onWriteFailure?: (count: number) => void;

  /**
   * Creates the file with mode 0600 if it is missing; an existing file is left as it is.
   * Throws `InvalidOptionError` (`deadLetter.path`) for a bad path, `DeadLetterSymlinkError` when
   * the path is a symbolic link, `DeadLetterModeError` for a regular file with group or other
   * permissions, and `StorageError` naming the path when the file cannot be created or opened for
   * appending.
   */
  constructor(path: string, options: DeadLetterFileOptions = {}) {
    if (typeof path !== 'string' || path.trim() === '') {
      throw new InvalidOptionError('deadLetter.path', 'must be a non-empty string (the dead-letter file)');
    }
    if (path.includes('\0')) throw new InvalidOptionError('deadLetter.path', 'must not contain NUL characters');
    const logger = options?.logger;
    if (logger !== undefined && (logger === null || typeof logger.error !== 'function')) {
      throw new InvalidOptionError('deadLetter.logger', 'must have error()');
    }
    const onWriteFailure = options?.onWriteFailure;
    if (onWriteFailure !== undefined && typeof onWriteFailure !== 'function') {
      throw new InvalidOptionError('deadLetter.onWriteFailure', 'must be a function');
    }
    this.path = resolve(path);
    this.logger = logger ?? consoleLogger;
    this.onWriteFailure = onWriteFailure;
    let fd: number;
    try {
      fd = this.open().fd;
    } catch (err) {
      if (err instanceof DeadLetterSymlinkError || err instanceof DeadLetterModeError) throw err;
      throw new StorageError(this.path, `cannot open the dead-letter file for appending: ${errorMessage(err)}`);
    }
    closeSync(fd);
    this.unregister = onProcessExit(() => {
      this.writeAtOnce = true;
      this.flushSync();
    });
  }

  /** Lines waiting for the end of this tick. */
  get pendingCount(): number {
    return this.pending.length;
  }

  /** Queues the records; they are on disk after this tick (at once after `close()`). Never throws. */
  append(records: readonly DeadLetterRecord[]): void {
    try {
      for (const record of records) this.pending.push(this.serialise(record));
    } catch (err) {
      this.log(`could not read the dead letters to write to ${this.path}: ${errorMessage(err)}`);
    }
    if (this.pending.length === 0) return;
    if (this.writeAtOnce) this.flushSync();
    else this.scheduled ??= setImmediate(() => this.flushSync());
  }

  /** Writes every queued line now, in one append, and fsyncs. Never throws. */
  flushSync(): void {
    if (this.scheduled) clearImmediate(this.scheduled);
    this.scheduled = undefined;
    if (this.pending.length === 0) return;
    const lines = this.pending;
    this.pending = [];
    const failure = this.write(lines);
    if (failure !== undefined) this.logInFull(lines, failure);
  }

  /**
   * Writes the records now (after any queued lines, in the same append) and fsyncs. Returns
   * `undefined` once they are on disk, or why they are not: the caller still holds the events and
   * keeps them, so these records are not logged here (queued lines of earlier appends are, as in
   * `flushSync`). Never throws.
   */
  appendNow(records: readonly DeadLetterRecord[]): string | undefined {
    if (this.scheduled) clearImmediate(this.scheduled);
    this.scheduled = undefined;
    const earlier = this.pending;
    this.pending = [];
    let lines: string[];
    try {
      lines = records.map((record) => this.serialise(record));
    } catch (err) {
      lines = [];
      this.log(`could not read the dead letters to write to ${this.path}: ${errorMessage(err)}`);
    }
    const failure = this.write([...earlier, ...lines]);
    if (failure !== undefined) this.logInFull(earlier, failure);
    return failure;
  }

  /** Writes what is queued and stops listening for process exit. Later appends are written at once. */
  close(): void {
    this.writeAtOnce = true;
    this.flushSync();
    this.unregister();
  }

  private serialise(record: DeadLetterRecord): string {
    try {
      return `${JSON.stringify(record)}\n`;
    } catch (err) {
      // Only a caller bypassing the types gets here (a BigInt, a cycle): keep what can be shown.
      return `${JSON.stringify({ unserialisable: inspect(record, { depth: 5 }), error: errorMessage(err) })}\n`;
    }
  }

  /**
   * Opens the file for a write: never through a symlink, and never a regular file its group or
   * others may access. Throws the typed errors, or the file system's.
   */
  private open(): { fd: number; regular: boolean } {
    let fd: number;
    try {
      fd = openSync(this.path, OPEN_FLAGS, FILE_MODE);
    } catch (err) {
      if ((err as NodeJS.ErrnoException | null)?.code === 'ELOOP') throw new DeadLetterSymlinkError(this.path);
      throw err;
    }
    try {
      const stat = fstatSync(fd);
      if (stat.isFile() && (stat.mode & GROUP_OTHER_BITS) !== 0) throw new DeadLetterModeError(this.path, stat.mode);
      return { fd, regular: stat.isFile() };
    } catch (err) {
      closeSync(fd);
      throw err;
    }
  }

  /** Appends the lines in one write and fsyncs; returns why that failed, or `undefined`. Never throws. */
  private write(lines: string[]): string | undefined {
    if (lines.length === 0) return undefined;
    let fd: number | undefined;
    try {
      const opened = this.open();
      fd = opened.fd;
      let data = Buffer.from(lines.join(''), 'utf8');
      // A line torn by an earlier failed write must not swallow the first of these.
      if (opened.regular && !endsWithNewline(fd)) data = Buffer.concat([Buffer.from('\n'), data]);
      appendFileSync(fd, data);
      // A device (/dev/null) cannot be fsynced, and has nothing to keep.
      if (opened.regular) fsyncSync(fd);
      return undefined;
    } catch (err) {
      try {
        this.onWriteFailure?.(lines.length);
      } catch {
        // A metric hook must not turn a failed write into a lost line.
      }
      return errorMessage(err);
    } finally {
      if (fd !== undefined) {
        try {
          closeSync(fd);
        } catch {
          // Written and fsynced already; nothing to add.
        }
      }
    }
  }

  /** Lines nobody else holds any more: each goes to the log in full. */
  private logInFull(lines: readonly string[], reason: string): void {
    for (const line of lines) {
      const record = line.trimEnd();
      this.log(`could not write a dead letter to ${this.path} (${reason}); the record follows in full: ${record}`);
    }
  }

  /** A throwing custom logger must not lose the line: fall back to stderr. */
  private log(message: string): void {
    try {
      this.logger.error(message);
    } catch {
      try {
        consoleLogger.error(message);
      } catch {
        // Nothing left to report it to.
      }
    }
  }
}

function endsWithNewline(fd: number): boolean {
  const { size } = fstatSync(fd);
  if (size === 0) return true;
  const last = Buffer.alloc(1);
  readSync(fd, last, 0, 1, size - 1);
  return last[0] === NEWLINE;
}
