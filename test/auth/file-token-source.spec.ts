import { mkdir, mkdtemp, rename, rm, symlink, truncate, utimes, writeFile } from 'node:fs/promises';
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
