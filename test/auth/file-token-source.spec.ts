import { writeFileSync } from 'node:fs';
import { FileHandle, mkdir, mkdtemp, rename, rm, stat, symlink, truncate, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { FileTokenSource, InvalidOptionError, SendResult } from '../../lib/core';
import { MAX_TOKEN_FILE_BYTES } from '../../lib/auth/file-token-source';
import { useEmitterHarness } from '../support/emitter-harness';
import { waitFor } from '../support/wait-for';
import { failure } from './support/token-source-failure';

async function header(source: FileTokenSource): Promise<string | undefined> {
  const headers: Record<string, string> = {};
  await source.enhanceHeader(headers);
  return headers.Authorization;
}

/** An hour ago, so the file is past the window in which a same-size rewrite could hide. */
async function age(path: string): Promise<void> {
  const past = new Date(Date.now() - 3_600_000);
  await utimes(path, past, past);
}

describe('FileTokenSource', () => {
  let dir: string;
  let file: string;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'file-token-source-'));
    file = join(dir, 'token');
  });
  afterEach(async () => {
    jest.restoreAllMocks();
    await rm(dir, { recursive: true, force: true });
  });

  it('reads the token, trims surrounding whitespace and sets Authorization: Bearer', async () => {
    await writeFile(file, '  \n eyJhbGciOiJSUzI1NiJ9.e30.c2ln \r\n\n');
    const source = new FileTokenSource(file);
    const headers: Record<string, string> = { 'Content-Type': 'application/json' };
    await source.enhanceHeader(headers);
    expect(headers).toEqual({
      'Content-Type': 'application/json',
      Authorization: 'Bearer eyJhbGciOiJSUzI1NiJ9.e30.c2ln',
    });
    expect(await source.getToken()).toBe('eyJhbGciOiJSUzI1NiJ9.e30.c2ln');
  });

  it('reads an unchanged file once and only stats it after that', async () => {
    await writeFile(file, 'stable-token');
    // A file changed in the last 2 s is read on every call (its timestamps may not show a
    // same-size rewrite yet). An hour from now, this one is long past that window.
    const now = jest.spyOn(Date, 'now').mockReturnValue(Date.now() + 3_600_000);
    // The module object itself (an `import *` namespace would be a copy the library never calls).
    const opened = jest.spyOn(require('node:fs/promises') as typeof import('node:fs/promises'), 'open');
    try {
      const source = new FileTokenSource(file);
      for (let i = 0; i < 20; i++) expect(await source.getToken()).toBe('stable-token');
      expect(opened).toHaveBeenCalledTimes(1);

      await writeFile(file, 'stable-tokem');
      expect(await source.getToken()).toBe('stable-tokem');
      expect(opened.mock.calls.filter(([path]) => path === file)).toHaveLength(2);
    } finally {
      opened.mockRestore();
      now.mockRestore();
    }
  });

  it('reads a file changed within the last 2 s on every call', async () => {
    await writeFile(file, 'fresh-token');
    // The clock stays where it was when the file was written: it is 0 s old on every call.
    const now = jest.spyOn(Date, 'now').mockReturnValue(Date.now());
    const opened = jest.spyOn(require('node:fs/promises') as typeof import('node:fs/promises'), 'open');
    try {
      const source = new FileTokenSource(file);
      for (let i = 0; i < 3; i++) expect(await source.getToken()).toBe('fresh-token');
      expect(opened.mock.calls.filter(([path]) => path === file)).toHaveLength(3);
    } finally {
      opened.mockRestore();
      now.mockRestore();
    }
  });

  it('picks up a token rewritten in place with the same length, right after it was read', async () => {
    await writeFile(file, 'token-AAAA\n');
    const source = new FileTokenSource(file);
    expect(await header(source)).toBe('Bearer token-AAAA');
    await writeFile(file, 'token-BBBB\n');
    expect(await header(source)).toBe('Bearer token-BBBB');
    await writeFile(file, 'token-CCCC\n');
    expect(await header(source)).toBe('Bearer token-CCCC');
  });

  it('picks up an in-place rewrite of an old file, even when the rotation puts the old mtime back', async () => {
    await writeFile(file, 'old-token-1');
    await age(file);
    const source = new FileTokenSource(file);
    expect(await source.getToken()).toBe('old-token-1');
    expect(await source.getToken()).toBe('old-token-1');

    await writeFile(file, 'new-token-2');
    expect(await source.getToken()).toBe('new-token-2');

    await age(file);
    expect(await source.getToken()).toBe('new-token-2');
    await writeFile(file, 'new-token-3');
    await age(file); // same size, same (old) mtime: only ctime tells
    expect(await source.getToken()).toBe('new-token-3');
  });

  it('picks up a token replaced by an atomic rename', async () => {
    await writeFile(file, 'renamed-1');
    await age(file);
    const source = new FileTokenSource(file);
    expect(await source.getToken()).toBe('renamed-1');
    await writeFile(join(dir, 'token.tmp'), 'renamed-2');
    await age(join(dir, 'token.tmp'));
    await rename(join(dir, 'token.tmp'), file);
    expect(await source.getToken()).toBe('renamed-2');
  });

  it('picks up a Kubernetes-style rotation (the ..data symlink swapped to a new directory)', async () => {
    // The kubelet's layout: token -> ..data/token, ..data -> ..2024_01_01_00_00_00.1, swapped atomically.
    const mount = join(dir, 'serviceaccount');
    await mkdir(join(mount, '..v1'), { recursive: true });
    await mkdir(join(mount, '..v2'));
    await writeFile(join(mount, '..v1', 'token'), 'k8s-token-one\n');
    await writeFile(join(mount, '..v2', 'token'), 'k8s-token-two\n');
    await age(join(mount, '..v1', 'token'));
    await age(join(mount, '..v2', 'token'));
    await symlink('..v1', join(mount, '..data'));
    await symlink(join('..data', 'token'), join(mount, 'token'));

    const source = new FileTokenSource(join(mount, 'token'));
    expect(await source.getToken()).toBe('k8s-token-one');
    await symlink('..v2', join(mount, '..data_tmp'));
    await rename(join(mount, '..data_tmp'), join(mount, '..data'));
    expect(await source.getToken()).toBe('k8s-token-two');
  });

  it('invalidate() makes the next call read the file again', async () => {
    await writeFile(file, 'cached');
    // An hour from now the file is long past the window in which it is read on every call, so
    // only invalidate() can make the source open it again.
    const later = Date.now() + 3_600_000;
    const now = jest.spyOn(Date, 'now').mockReturnValue(later);
    const opened = jest.spyOn(require('node:fs/promises') as typeof import('node:fs/promises'), 'open');
    try {
      const source = new FileTokenSource(file);
      const reads = () => opened.mock.calls.filter(([path]) => path === file).length;
      expect(await source.getToken()).toBe('cached');
      expect(await source.getToken()).toBe('cached');
      expect(reads()).toBe(1);
      source.invalidate();
      expect(await source.getToken()).toBe('cached');
      expect(reads()).toBe(2);
      expect(await source.getToken()).toBe('cached');
      expect(reads()).toBe(2);
    } finally {
      opened.mockRestore();
      now.mockRestore();
    }
  });

  it('a missing file is a clear typed error naming the path, and the token is read once the file appears', async () => {
    const source = new FileTokenSource(file);
    const error = await failure(header(source));
    expect(error.code).toBe('TOKEN_FILE_MISSING');
    expect(error.message).toBe(`token file ${file} does not exist`);

    await writeFile(file, 'appeared');
    expect(await header(source)).toBe('Bearer appeared');

    await rm(file);
    expect((await failure(header(source))).code).toBe('TOKEN_FILE_MISSING');
  });

  it('a missing parent directory is reported as a missing file', async () => {
    const error = await failure(new FileTokenSource(join(file, 'nested')).getToken());
    expect(error.code).toBe('TOKEN_FILE_MISSING');
  });

  it('an empty or whitespace-only file is a clear typed error', async () => {
    await writeFile(file, '');
    const source = new FileTokenSource(file);
    const empty = await failure(header(source));
    expect(empty.code).toBe('TOKEN_FILE_INVALID');
    expect(empty.message).toBe(`token file ${file} is empty`);

    await writeFile(file, ' \n\t\r\n');
    expect((await failure(header(source))).message).toBe(`token file ${file} is empty`);
  });

  it('a file emptied after a good read fails instead of sending the stale token', async () => {
    await writeFile(file, 'was-good');
    const source = new FileTokenSource(file);
    expect(await source.getToken()).toBe('was-good');
    await truncate(file, 0);
    expect((await failure(source.getToken())).code).toBe('TOKEN_FILE_INVALID');
  });

  it('content that cannot be one bearer token is refused without printing it', async () => {
    await writeFile(file, 'first-secret-part second-secret-part\n');
    const error = await failure(new FileTokenSource(file).getToken());
    expect(error.code).toBe('TOKEN_FILE_INVALID');
    expect(error.message).toContain(file);
    expect(error.message).not.toContain('secret-part');
    expect(inspect(error)).not.toContain('secret-part');
  });

  it('refuses a directory and a file too large to be a token', async () => {
    const notFile = await failure(new FileTokenSource(dir).getToken());
    expect(notFile).toMatchObject({
      code: 'TOKEN_FILE_UNREADABLE',
      message: `token file ${dir} is not a regular file`,
    });

    await writeFile(file, 'x'.repeat(MAX_TOKEN_FILE_BYTES + 1));
    const tooLarge = await failure(new FileTokenSource(file).getToken());
    expect(tooLarge.code).toBe('TOKEN_FILE_INVALID');
    expect(tooLarge.message).not.toContain('xxxx');
  });

  it('keeps the token out of JSON.stringify and util.inspect', async () => {
    await writeFile(file, 'very-private-token');
    const source = new FileTokenSource(file);
    await source.getToken();
    for (const text of [JSON.stringify(source), inspect(source), inspect(source, { showHidden: true, depth: 10 })]) {
      expect(text).not.toContain('very-private-token');
      expect(text).toContain(file);
    }
    expect(JSON.parse(JSON.stringify(source))).toEqual({ type: 'FileTokenSource', path: file });
  });

  it('resolves a relative path and rejects a bad one', () => {
    expect(new FileTokenSource('relative/token').path).toBe(join(process.cwd(), 'relative/token'));
    for (const bad of ['', '   ', undefined, 42, 'a\0b']) {
      let thrown: unknown;
      try {
        new FileTokenSource(bad as string);
      } catch (err) {
        thrown = err;
      }
      expect(thrown).toBeInstanceOf(InvalidOptionError);
      expect((thrown as InvalidOptionError).option).toBe('path');
    }
  });

  /** Spies on `open` without changing it (until afterEach): how often the file was opened, and the handles it got. */
  function watchOpens() {
    const opened = jest.spyOn(require('node:fs/promises') as typeof import('node:fs/promises'), 'open');
    return {
      reads: (path: string) => opened.mock.calls.filter(([p]) => p === path).length,
      handles: () => Promise.all(opened.mock.results.map((r) => r.value as Promise<FileHandle>)),
    };
  }

  /** Freezes `Date.now()` at `ms` (until afterEach); `set` moves it. */
  function clockAt(ms: number) {
    const spy = jest.spyOn(Date, 'now').mockReturnValue(ms);
    return { set: (next: number) => void spy.mockReturnValue(next) };
  }

  it('says why a path is refused', () => {
    for (const [bad, reason] of [
      ['', 'must be a non-empty string (the token file)'],
      ['  ', 'must be a non-empty string (the token file)'],
      [undefined, 'must be a non-empty string (the token file)'],
      ['a\0b', 'must not contain NUL characters'],
    ]) {
      let thrown: unknown;
      try {
        new FileTokenSource(bad as string);
      } catch (err) {
        thrown = err;
      }
      expect(thrown).toBeInstanceOf(InvalidOptionError);
      expect((thrown as Error).message).toBe(`Invalid Snowplow option "path": ${reason}`);
    }
  });

  it('accepts a token file of exactly 64 KiB and refuses one byte more, naming the limit', async () => {
    const largest = 'x'.repeat(65_536);
    await writeFile(file, largest);
    const source = new FileTokenSource(file);
    expect(await source.getToken()).toBe(largest);

    await writeFile(file, `${largest}y`);
    const error = await failure(source.getToken());
    expect(error).toMatchObject({
      code: 'TOKEN_FILE_INVALID',
      message: `token file ${file} is larger than 65536 bytes, so it is not a token`,
    });
  });

  it('closes the file it opened, whether the read succeeds or is refused', async () => {
    await writeFile(file, 'closed-after-read');
    await writeFile(join(dir, 'large'), 'x'.repeat(MAX_TOKEN_FILE_BYTES + 1));
    const opens = watchOpens();
    expect(await new FileTokenSource(file).getToken()).toBe('closed-after-read');
    expect((await failure(new FileTokenSource(dir).getToken())).code).toBe('TOKEN_FILE_UNREADABLE');
    expect((await failure(new FileTokenSource(join(dir, 'large')).getToken())).code).toBe('TOKEN_FILE_INVALID');
    const handles = await opens.handles();
    expect(handles).toHaveLength(3);
    // A closed FileHandle has fd -1; an open one keeps its descriptor until garbage collection.
    expect(handles.map((h) => h.fd)).toEqual([-1, -1, -1]);
  });

  it('a path that cannot be resolved for another reason is unreadable, with the error code in the message', async () => {
    await symlink(join(dir, 'loop-b'), join(dir, 'loop-a'));
    await symlink(join(dir, 'loop-a'), join(dir, 'loop-b'));
    const loop = await failure(new FileTokenSource(join(dir, 'loop-a')).getToken());
    expect(loop).toMatchObject({
      code: 'TOKEN_FILE_UNREADABLE',
      message: `cannot read token file ${join(dir, 'loop-a')} (ELOOP)`,
    });

    await writeFile(file, 'a file, not a directory');
    const notDir = await failure(new FileTokenSource(join(file, 'nested')).getToken()); // ENOTDIR
    expect(notDir).toMatchObject({
      code: 'TOKEN_FILE_MISSING',
      message: `token file ${join(file, 'nested')} does not exist`,
    });
  });

  it('an error without a code is named as an error, and what it says is not repeated', async () => {
    await writeFile(file, 'never-read');
    const fs = require('node:fs/promises') as typeof import('node:fs/promises');
    const stats = jest.spyOn(fs, 'stat').mockRejectedValueOnce(new Error('disk on fire'));
    try {
      const error = await failure(new FileTokenSource(file).getToken());
      expect(error).toMatchObject({ code: 'TOKEN_FILE_UNREADABLE', message: `cannot read token file ${file} (error)` });
    } finally {
      stats.mockRestore();
    }
  });

  it('a file is read again until 2 s have passed since its newest timestamp, an mtime in the future included', async () => {
    await writeFile(file, 'future-mtime');
    const mtimeSeconds = Math.floor(Date.now() / 1000) + 3_600;
    await utimes(file, mtimeSeconds, mtimeSeconds); // ctime is now, the mtime an hour later
    const { mtimeNs, ctimeNs } = await stat(file, { bigint: true });
    expect(mtimeNs).toBe(BigInt(mtimeSeconds) * 1_000_000_000n);
    expect(mtimeNs > ctimeNs).toBe(true);

    const clock = clockAt(mtimeSeconds * 1000 + 1_999);
    const opens = watchOpens();
    const source = new FileTokenSource(file);
    expect(await source.getToken()).toBe('future-mtime');
    expect(await source.getToken()).toBe('future-mtime');
    expect(opens.reads(file)).toBe(2); // 1.999 s after the mtime: read on every call

    clock.set(mtimeSeconds * 1000 + 2_000);
    expect(await source.getToken()).toBe('future-mtime'); // read at exactly 2 s: no longer racy
    expect(await source.getToken()).toBe('future-mtime');
    expect(await source.getToken()).toBe('future-mtime');
    expect(opens.reads(file)).toBe(3);
  });

  it('a file whose mtime was put back is read again until 2 s have passed since its ctime', async () => {
    await writeFile(file, 'old-mtime');
    await age(file);
    const { mtimeNs, ctimeNs } = await stat(file, { bigint: true });
    expect(ctimeNs - mtimeNs > 3_000_000_000_000n).toBe(true);
    const ctimeMs = Number(ctimeNs / 1_000_000n);

    const clock = clockAt(ctimeMs + 1_999);
    const opens = watchOpens();
    const source = new FileTokenSource(file);
    expect(await source.getToken()).toBe('old-mtime');
    expect(await source.getToken()).toBe('old-mtime');
    expect(opens.reads(file)).toBe(2);

    clock.set(ctimeMs + 2_001);
    expect(await source.getToken()).toBe('old-mtime');
    expect(await source.getToken()).toBe('old-mtime');
    expect(opens.reads(file)).toBe(3);
  });

  it('an old file rewritten with the same size and the same mtime is read again: its ctime tells', async () => {
    // Whole seconds, so that the mtime set twice below is the same to the nanosecond.
    const anHourAgo = Math.floor(Date.now() / 1000) - 3_600;
    await writeFile(file, 'same-size-1');
    await utimes(file, anHourAgo, anHourAgo);
    const before = await stat(file, { bigint: true });
    clockAt(Date.now() + 3_600_000); // long past the racy window of every change below
    const opens = watchOpens();
    const source = new FileTokenSource(file);
    expect(await source.getToken()).toBe('same-size-1');
    expect(await source.getToken()).toBe('same-size-1');
    expect(opens.reads(file)).toBe(1);

    await writeFile(file, 'same-size-2');
    await utimes(file, anHourAgo, anHourAgo);
    const after = await stat(file, { bigint: true });
    expect([after.ino, after.size, after.mtimeNs]).toEqual([before.ino, before.size, before.mtimeNs]);
    expect(after.ctimeNs).not.toBe(before.ctimeNs);

    expect(await source.getToken()).toBe('same-size-2');
    expect(opens.reads(file)).toBe(2);
  });

  it('a symlink swapped to another file with the same size and timestamps is read again: its inode tells', async () => {
    // Two files written back to back within one tick of the file system's clock have the same
    // mtime and ctime; only their inodes differ. A few attempts find such a pair.
    let twins: [string, string] | undefined;
    for (let attempt = 0; attempt < 100 && !twins; attempt++) {
      const a = join(dir, `twin-${attempt}-a`);
      const b = join(dir, `twin-${attempt}-b`);
      writeFileSync(a, 'twin-token-A');
      writeFileSync(b, 'twin-token-B');
      const [sa, sb] = await Promise.all([stat(a, { bigint: true }), stat(b, { bigint: true })]);
      if (sa.mtimeNs === sb.mtimeNs && sa.ctimeNs === sb.ctimeNs) twins = [a, b];
    }
    if (!twins) throw new Error('could not write two files with the same timestamps on this file system');
    const [a, b] = twins;
    await symlink(a, file);

    clockAt(Date.now() + 3_600_000);
    const opens = watchOpens();
    const source = new FileTokenSource(file);
    expect(await source.getToken()).toBe('twin-token-A');
    expect(await source.getToken()).toBe('twin-token-A');
    expect(opens.reads(file)).toBe(1);

    await symlink(b, join(dir, 'token.next'));
    await rename(join(dir, 'token.next'), file);
    const [sa, sb] = await Promise.all([stat(a, { bigint: true }), stat(file, { bigint: true })]);
    expect([sb.dev, sb.size, sb.mtimeNs, sb.ctimeNs]).toEqual([sa.dev, sa.size, sa.mtimeNs, sa.ctimeNs]);
    expect(sb.ino).not.toBe(sa.ino);

    expect(await source.getToken()).toBe('twin-token-B');
    expect(opens.reads(file)).toBe(2);
  });
});

describe('FileTokenSource with the Emitter', () => {
  const harness = useEmitterHarness({ appId: 'file-token' });
  let dir: string;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'file-token-emitter-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('sends the current token of a rotating file, and -1 with the events kept while the file is missing', async () => {
    const file = join(dir, 'token');
    const failures: SendResult[] = [];
    const { tracker } = harness.start({
      tokenSource: new FileTokenSource(file),
      maxConcurrentRequests: 1,
      backoff: { baseMs: 20, capMs: 200 },
      callback: (_ok, failed) => void failures.push(...failed),
    });

    tracker.trackEvent('before_file', {});
    await waitFor(() => failures.length >= 2, { what: 'failures while the token file is missing' });
    expect(
      failures.every((f) => f.statusCode === -1 && /^token source failed \(.*token file/i.test(f.error?.message ?? '')),
    ).toBe(true);
    expect(harness.collector.requests).toEqual([]);

    await writeFile(file, 'rotation-1\n');
    await harness.collector.waitForEvents(1);
    tracker.trackEvent('first', {});
    await harness.collector.waitForEvents(2);

    await writeFile(file, 'rotation-2\n');
    tracker.trackEvent('second', {});
    await harness.collector.waitForEvents(3);

    const tokens = harness.collector.accepted().map((r) => r.headers.authorization);
    expect(tokens.slice(0, 2)).toEqual(['Bearer rotation-1', 'Bearer rotation-1']);
    expect(tokens.at(-1)).toBe('Bearer rotation-2');
  });
});
