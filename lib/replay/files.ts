import { createHash } from 'node:crypto';
import {
  closeSync,
  fchmodSync,
  fsyncSync,
  openSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  writeSync,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { types } from 'node:util';
import type { EmitterLogger } from '../emitter/send-result';
import { StorageError } from '../errors';
import { CHUNK_BYTES, lineKey, readLines } from './lines';
import { processExists } from '../utils/process-alive';

const FILE_MODE = 0o600;
/** Rewrites retried when lines keep arriving while the new file is written. */
const MAX_REWRITE_ATTEMPTS = 5;

/** The message of an error, from any realm (fs errors inside a vm context are not `instanceof Error`). */
export function errorMessage(err: unknown): string {
  return err instanceof Error || types.isNativeError(err) ? err.message : String(err);
}

/** A throwing custom logger must not break the replay. */
export function safeLog(log: () => void): void {
  try {
    log();
  } catch {
    // Nothing left to report it to.
  }
}

/** `fs.statSync`, as a `StorageError` naming the file. */
export function statFile(path: string): { size: number; dev: number; ino: number } {
  try {
    return statSync(path);
  } catch (err) {
    throw new StorageError(path, `cannot read the dead-letter file: ${errorMessage(err)}`);
  }
}

/** Opens the file for reading; `StorageError` naming it when it cannot be. */
export function openFile(path: string): number {
  try {
    return openSync(path, 'r');
  } catch (err) {
    throw new StorageError(path, `cannot read the dead-letter file: ${errorMessage(err)}`);
  }
}

/**
 * Removes the `<file>.<pid>.tmp` files a replay killed during its rewrite left next to the file:
 * only names of that exact pattern, and only when that pid is not this process and runs no more.
 */
export function removeLeftoverTemps(path: string, logger: EmitterLogger): void {
  const dir = dirname(path);
  const prefix = `${basename(path)}.`;
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return; // Reading the file itself reports what is wrong with its directory.
  }
  for (const name of names) {
    if (!name.startsWith(prefix) || !name.endsWith('.tmp')) continue;
    const pidText = name.slice(prefix.length, -'.tmp'.length);
    if (!/^[1-9][0-9]{0,9}$/.test(pidText)) continue;
    const pid = Number(pidText);
    if (pid === process.pid || processExists(pid)) continue;
    try {
      rmSync(join(dir, name));
      safeLog(() =>
        logger.warn(
          `removed ${join(dir, name)}, left by a replay (pid ${pid}) that was killed while rewriting the file`,
        ),
      );
    } catch (err) {
      safeLog(() => logger.warn(`could not remove ${join(dir, name)} left by a killed replay: ${errorMessage(err)}`));
    }
  }
}

/** A running SHA-256 of the first `size` bytes of the file, fed its chunks in order: tells whether they changed. */
export function prefixHasher(size: number): { update(bytes: Buffer, position: number): void; digest(): string } {
  const hash = createHash('sha256');
  return {
    update: (bytes, position) => {
      if (position < size) hash.update(bytes.subarray(0, Math.min(bytes.length, size - position)));
    },
    digest: () => hash.digest('hex'),
  };
}

/** What the final rewrite found. */
export interface RewriteResult {
  /** Lines removed because they were delivered. */
  removed: number;
  /** Non-blank lines the new file holds. */
  remaining: number;
  /** Of these, lines appended after the replay first read the file. */
  appended: number;
}

/**
 * Replaces `path` atomically by its lines minus the delivered ones: streams it into
 * `<file>.<pid>.tmp` (mode 0600), fsyncs, renames it over the file and fsyncs the directory. The
 * first `readSize` bytes must still be the ones read (hash `prefixHash`); lines after them were
 * appended meanwhile and are kept. Throws `StorageError` and leaves the file as it is otherwise.
 */
export async function rewriteWithout(
  path: string,
  readSize: number,
  prefixHash: string,
  isDelivered: (offset: number, key: string) => boolean,
  summary: string,
  logger: EmitterLogger,
): Promise<RewriteResult> {
  const tmp = `${path}.${process.pid}.tmp`;
  for (let attempt = 1; ; attempt++) {
    const sizeBefore = statFile(path).size;
    const result = await writeKept(path, tmp, readSize, prefixHash, isDelivered, summary);
    // A line appended while the new file was written goes round again rather than being lost.
    if (statFile(path).size !== sizeBefore) {
      rmSync(tmp, { force: true });
      if (attempt < MAX_REWRITE_ATTEMPTS) continue;
      throw new StorageError(
        path,
        `kept growing during the rewrite (${summary}); left as it is, and its replay journal kept, so the next ` +
          'replay skips the delivered lines. Replay only files no process is writing to',
      );
    }
    try {
      renameSync(tmp, path);
    } catch (err) {
      rmSync(tmp, { force: true });
      throw new StorageError(path, `cannot rename ${tmp} over it (${summary}); left as it is: ${errorMessage(err)}`);
    }
    fsyncDirectory(dirname(path), logger);
    return result;
  }
}

async function writeKept(
  path: string,
  tmp: string,
  readSize: number,
  prefixHash: string,
  isDelivered: (offset: number, key: string) => boolean,
  summary: string,
): Promise<RewriteResult> {
  const result: RewriteResult = { removed: 0, remaining: 0, appended: 0 };
  const prefix = prefixHasher(readSize);
  let fd: number | undefined;
  try {
    rmSync(tmp, { force: true });
    fd = openSync(tmp, 'wx', FILE_MODE);
    // The umask may have taken bits away from the mode above; set exactly owner read and write.
    fchmodSync(fd, FILE_MODE);
    const out = Buffer.allocUnsafe(CHUNK_BYTES);
    let used = 0;
    const flush = () => {
      for (let done = 0; done < used;) done += writeSync(fd as number, out, done, used - done);
      used = 0;
    };
    for await (const { offset, bytes } of readLines(path, Number.POSITIVE_INFINITY, prefix.update)) {
      if (offset < readSize && isDelivered(offset, lineKey(bytes))) {
        result.removed++;
        continue;
      }
      result.remaining++;
      if (offset >= readSize) result.appended++;
      if (used + bytes.length + 1 > out.length) flush();
      if (bytes.length + 1 > out.length) {
        for (let done = 0; done < bytes.length;) done += writeSync(fd, bytes, done);
        writeSync(fd, '\n');
        continue;
      }
      used += bytes.copy(out, used);
      out[used++] = 0x0a;
    }
    flush();
    fsyncSync(fd);
  } catch (err) {
    if (fd !== undefined) closeQuietly(fd);
    rmSync(tmp, { force: true });
    const reason = `cannot write the rewritten dead-letter file (${summary}); the file is left as it is`;
    throw new StorageError(tmp, `${reason}: ${errorMessage(err)}`);
  }
  closeSync(fd);
  if (prefix.digest() !== prefixHash) {
    rmSync(tmp, { force: true });
    throw new StorageError(
      path,
      `changed during the replay other than by appending lines (${summary}); left as it is, and its replay ` +
        'journal kept, so the next replay skips the delivered lines whose bytes did not change. Replay only ' +
        'files no process is writing to',
    );
  }
  return result;
}

/** Makes a rename durable. Some platforms cannot fsync a directory; that is logged, not fatal. */
export function fsyncDirectory(dir: string, logger: EmitterLogger): void {
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

function closeQuietly(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // Already failing; the first error is the one reported.
  }
}
