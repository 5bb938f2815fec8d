import { BigIntStats } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { inspect } from 'node:util';
import { InvalidOptionError } from '../errors';
import { HEADER_SAFE_TOKEN } from '../validation';
import { TokenSourceError } from './token-source-error';
import { TokenSource } from './token-source.interface';

/** Larger files are refused: they are not a token, and reading them on every change would be costly. */
export const MAX_TOKEN_FILE_BYTES = 64 * 1024;

/**
 * A file changed this recently (ns) may change again without a visible mtime change (timestamps
 * are as coarse as a clock tick, or 1-2 s on some file systems), so it is read again until older.
 */
const RACY_WINDOW_NS = 2_000_000_000n;

interface CachedFile {
  token: string;
  stats: BigIntStats;
  /** Read so soon after its last change that an unchanged stat does not prove unchanged content. */
  racy: boolean;
}

/**
 * Sends the token held in a file as `Authorization: Bearer ...`: a Kubernetes projected
 * service-account token, a CI job's id_token, or any file that a sidecar keeps fresh.
 *
 * Each call stats the file (a cheap syscall) and reads it again only when its identity, size or
 * timestamps changed (an in-place rewrite, an atomic rename, or the symlink swap Kubernetes uses),
 * so rotated tokens are picked up on the next request. Surrounding whitespace is trimmed. A
 * missing, unreadable or empty file throws `TokenSourceError`; the file's content is never part
 * of an error message. The cached token is held in a private field and never appears in
 * `JSON.stringify`, `util.inspect` (even with `showHidden`) or `String()` of this object.
 */
export class FileTokenSource implements TokenSource {
  /** Absolute path of the token file. */
  readonly path: string;
  #cached?: CachedFile;

  constructor(path: string) {
    if (typeof path !== 'string' || path.trim() === '')
      throw new InvalidOptionError('path', 'must be a non-empty string (the token file)');
    if (path.includes('\0')) throw new InvalidOptionError('path', 'must not contain NUL characters');
    this.path = resolve(path);
  }

  /** Sets `Authorization: Bearer <the file's token>`, reading the file again when it changed. */
  async enhanceHeader(headers: Record<string, string>): Promise<void> {
    headers.Authorization = `Bearer ${await this.getToken()}`;
  }

  /** The file's current token, trimmed. */
  async getToken(): Promise<string> {
    let current: BigIntStats;
    try {
      current = await stat(this.path, { bigint: true });
    } catch (err) {
      this.#cached = undefined;
      throw this.#accessError(err);
    }
    const cached = this.#cached;
    if (cached && !cached.racy && sameFile(cached.stats, current)) return cached.token;
    return this.#read();
  }

  /** Forgets the cached token; the next call reads the file again. */
  invalidate(): void {
    this.#cached = undefined;
  }

  /** Safe for logs: the path, never the token read from it. */
  toJSON(): Record<string, unknown> {
    return { type: 'FileTokenSource', path: this.path };
  }

  /** Safe for logs: the path, never the token read from it. */
  toString(): string {
    return `FileTokenSource { path: ${JSON.stringify(this.path)} }`;
  }

  /** What `util.inspect` and `console.log` print: the same as `toString()`. */
  [inspect.custom](): string {
    return this.toString();
  }

  async #read(): Promise<string> {
    let text: string;
    let stats: BigIntStats;
    try {
      const handle = await open(this.path, 'r');
      try {
        stats = await handle.stat({ bigint: true });
        if (!stats.isFile()) {
          throw new TokenSourceError('TOKEN_FILE_UNREADABLE', `token file ${this.path} is not a regular file`);
        }
        if (stats.size > BigInt(MAX_TOKEN_FILE_BYTES)) {
          throw new TokenSourceError(
            'TOKEN_FILE_INVALID',
            `token file ${this.path} is larger than ${MAX_TOKEN_FILE_BYTES} bytes, so it is not a token`,
          );
        }
        text = await handle.readFile('utf8');
      } finally {
        await handle.close();
      }
    } catch (err) {
      this.#cached = undefined;
      throw err instanceof TokenSourceError ? err : this.#accessError(err);
    }
    const token = text.trim();
    if (token === '') {
      this.#cached = undefined;
      throw new TokenSourceError('TOKEN_FILE_INVALID', `token file ${this.path} is empty`);
    }
    if (!HEADER_SAFE_TOKEN.test(token)) {
      this.#cached = undefined;
      throw new TokenSourceError(
        'TOKEN_FILE_INVALID',
        `token file ${this.path} does not hold a single bearer token (it has whitespace or control characters inside)`,
      );
    }
    const changedAgo = BigInt(Date.now()) * 1_000_000n - latestChange(stats);
    this.#cached = { token, stats, racy: changedAgo < RACY_WINDOW_NS };
    return token;
  }

  #accessError(err: unknown): TokenSourceError {
    const code = (err as { code?: unknown } | null)?.code;
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      return new TokenSourceError('TOKEN_FILE_MISSING', `token file ${this.path} does not exist`);
    }
    return new TokenSourceError(
      'TOKEN_FILE_UNREADABLE',
      `cannot read token file ${this.path} (${typeof code === 'string' ? code : 'error'})`,
    );
  }
}

function sameFile(a: BigIntStats, b: BigIntStats): boolean {
  return a.dev === b.dev && a.ino === b.ino && a.size === b.size && a.mtimeNs === b.mtimeNs && a.ctimeNs === b.ctimeNs;
}

function latestChange(stats: BigIntStats): bigint {
  return stats.mtimeNs > stats.ctimeNs ? stats.mtimeNs : stats.ctimeNs;
}
