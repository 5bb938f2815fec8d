import {
  closeSync,
  constants,
  fchmodSync,
  fstatSync,
  fsyncSync,
  openSync,
  readFileSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { StorageError } from '../errors';
import { errorMessage } from './files';

/** The journal's first line: names the format and the file (device and inode) its offsets are in. */
const HEADER = 'nestjs-snowplow replay journal v1';
const FILE_MODE = 0o600;
/** Never through a symbolic link: a link at the journal's path would have its target truncated and written. */
const { O_APPEND, O_CREAT, O_NOFOLLOW, O_NONBLOCK, O_RDONLY, O_TRUNC, O_WRONLY } = constants;
/** Synced to disk after this many entries, or this long after the first unsynced one, whichever comes first. */
export const JOURNAL_SYNC_EVERY = 1_000;
export const JOURNAL_SYNC_MS = 200;

/** The identity of the dead-letter file the offsets refer to: a rename over it makes a new one. */
export interface FileIdentity {
  dev: number;
  ino: number;
}

/** A line delivered: its offset and `lineKey` (length and hash of its bytes). */
export interface JournalEntry {
  offset: number;
  key: string;
}

/**
 * The sidecar journal of a replay, `<file>.replay-journal` (mode 0600): the lines the collector
 * accepted, one `<offset> <key>` line each, appended as soon as the answer arrives (so a `kill -9`
 * loses none) and fsynced every `JOURNAL_SYNC_EVERY` entries or `JOURNAL_SYNC_MS` ms (so a machine
 * crash loses at most those). The next replay of the same file skips the lines it names whose bytes
 * still match; the final rewrite removes them and then deletes the journal.
 */
export class ReplayJournal {
  /** Offsets of the lines delivered, by this run or by an interrupted one, with their keys. */
  readonly delivered = new Map<number, string>();
  private fd: number;
  private unsynced = 0;
  private timer?: NodeJS.Timeout;
  /**
   * The first failure to write or sync: every later `record` and `sync` throws it (an fsync that
   * failed once proves nothing when a later one succeeds).
   */
  private failure?: StorageError;
  private onFailure?: (err: StorageError) => void;

  private constructor(
    readonly path: string,
    fd: number,
    entries: JournalEntry[],
  ) {
    this.fd = fd;
    for (const { offset, key } of entries) this.delivered.set(offset, key);
  }

  /**
   * Opens the journal of `file`: an existing one is read and continued when it is about this very
   * file (same device and inode), and started afresh otherwise (the file was replaced since, by the
   * final rewrite of the run that wrote it or by hand). `onStale` hears about a journal set aside.
   */
  static open(file: string, identity: FileIdentity, onStale: (reason: string) => void): ReplayJournal {
    const path = `${file}.replay-journal`;
    const header = `${HEADER} dev=${identity.dev} ino=${identity.ino}`;
    const existing = readJournal(path);
    const lines = existing?.split('\n') ?? [];
    const current = lines[0] === header;
    if (existing !== undefined && !current) {
      onStale(`${path} is about another version of the file (it was replaced since); started a new journal`);
    }
    try {
      const flags = O_WRONLY | O_CREAT | O_NOFOLLOW | (current ? O_APPEND : O_TRUNC);
      const fd = openSync(path, flags, FILE_MODE);
      fchmodSync(fd, FILE_MODE);
      const journal = new ReplayJournal(path, fd, current ? parseEntries(lines.slice(1)) : []);
      // A line cut short by a kill is ignored above; what follows it starts on a line of its own.
      if (!current) journal.write(`${header}\n`);
      else if (!existing?.endsWith('\n')) journal.write('\n');
      journal.sync();
      return journal;
    } catch (err) {
      if (err instanceof StorageError) throw err;
      throw journalOpenError(path, 'write', err);
    }
  }

  /**
   * `listener` hears the failure of a sync run by the timer (it has no caller to throw to): the
   * sender stops on it, and the replay then rejects with it.
   */
  watch(listener: (err: StorageError) => void): void {
    this.onFailure = listener;
  }

  /** Records delivered lines: written at once, synced every N entries or T ms. */
  record(entries: readonly JournalEntry[]): void {
    if (this.failure) throw this.failure;
    if (entries.length === 0) return;
    let text = '';
    for (const { offset, key } of entries) {
      this.delivered.set(offset, key);
      text += `${offset} ${key}\n`;
    }
    this.write(text);
    this.unsynced += entries.length;
    if (this.unsynced >= JOURNAL_SYNC_EVERY) this.sync();
    else this.timer ??= setTimeout(() => this.syncInBackground(), JOURNAL_SYNC_MS);
  }

  /** Whether the line at `offset` with this key was delivered. */
  has(offset: number, key: string): boolean {
    return this.delivered.get(offset) === key;
  }

  /** Syncs the entries written; throws the journal's failure, this one's or an earlier one's. */
  sync(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.failure) throw this.failure;
    this.unsynced = 0;
    try {
      fsyncSync(this.fd);
    } catch (err) {
      throw this.fail(new StorageError(this.path, `cannot sync the replay journal: ${errorMessage(err)}`));
    }
  }

  /** Syncs and closes; `remove` deletes the journal too (once the file no longer holds its lines). */
  close(remove: boolean): void {
    if (this.fd === -1) return;
    clearTimeout(this.timer);
    try {
      // Best effort: a replay that closes its journal without removing it is already failing.
      if (!remove) fsyncSync(this.fd);
    } catch {
      // The entries written are in the kernel's hands; the replay's own error is the one reported.
    } finally {
      closeSync(this.fd);
      this.fd = -1;
      if (remove) rmSync(this.path, { force: true });
    }
  }

  /** The timer's sync: no caller to throw to, so the failure is kept and the listener told (never uncaught). */
  private syncInBackground(): void {
    try {
      this.sync();
    } catch (err) {
      const listener = this.onFailure;
      if (listener && err instanceof StorageError) {
        try {
          listener(err);
        } catch {
          // The failure is kept: the next record or sync throws it to a caller.
        }
      }
    }
  }

  private fail(err: StorageError): StorageError {
    this.failure ??= err;
    return err;
  }

  private write(text: string): void {
    const bytes = Buffer.from(text, 'latin1');
    let done = 0;
    try {
      while (done < bytes.length) done += writeSync(this.fd, bytes, done);
    } catch (err) {
      throw this.fail(new StorageError(this.path, `cannot write the replay journal: ${errorMessage(err)}`));
    }
  }
}

/** The journal's text, or undefined when there is none; never read through a symbolic link, nor from a non-file. */
function readJournal(path: string): string | undefined {
  let fd: number;
  try {
    // O_NONBLOCK: a FIFO at the path must not hang the replay before fstat refuses it.
    fd = openSync(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw journalOpenError(path, 'read', err);
  }
  try {
    if (!fstatSync(fd).isFile()) {
      throw new StorageError(path, 'the replay journal is not a regular file; move it aside, then replay again');
    }
    return readFileSync(fd, 'latin1');
  } catch (err) {
    if (err instanceof StorageError) throw err;
    throw journalOpenError(path, 'read', err);
  } finally {
    closeSync(fd);
  }
}

function journalOpenError(path: string, what: 'read' | 'write', err: unknown): StorageError {
  if ((err as NodeJS.ErrnoException).code === 'ELOOP') {
    return new StorageError(
      path,
      'the replay journal is a symbolic link, which is never followed (its target would be overwritten); ' +
        'remove the link, then replay again',
    );
  }
  return new StorageError(path, `cannot ${what} the replay journal: ${errorMessage(err)}`);
}

function parseEntries(lines: readonly string[]): JournalEntry[] {
  const entries: JournalEntry[] = [];
  for (const line of lines) {
    const match = /^([0-9]{1,15}) ([0-9]{1,15}:[0-9a-f]{20})$/.exec(line);
    if (match) entries.push({ offset: Number(match[1]), key: match[2] });
  }
  return entries;
}
