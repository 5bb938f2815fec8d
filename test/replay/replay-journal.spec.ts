// node's own module object (not an interop copy), so a spy on it is what lib/ calls.
import fs = require('node:fs');
import { existsSync, readFileSync, readlinkSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { replayDeadLetters, StorageError } from '../../lib/core';
import { LocalCollector, startLocalCollector } from '../../lib/testing/local-collector';
import { waitFor } from '../support/wait-for';
import { fillDisk, mountTmpfs, unmountTmpfs } from '../storage/support/tmpfs';
import { jsonl, recordingLogger, records, useTempDir } from '../dead-letter/support/records';

describe('replayDeadLetters, when its journal fails or is not a file of its own', () => {
  const dir = useTempDir();
  let collector: LocalCollector;
  let path: string;
  let journalPath: string;
  const logger = recordingLogger();
  beforeEach(async () => {
    collector = await startLocalCollector();
    path = join(dir.path, 'dead-letters.jsonl');
    journalPath = `${path}.replay-journal`;
    logger.lines.length = 0;
  });
  afterEach(async () => {
    jest.restoreAllMocks();
    await collector.close();
  });

  it('stops and rejects with a StorageError naming the journal when its timed fsync fails; every line stays', async () => {
    const written = records(40, { billing: 40 });
    const text = jsonl(written);
    writeFileSync(path, text);
    // node's own fsync fails with EIO on the journal once the first request arrived (after the
    // journal was opened and synced): the failing sync is the one of the 200 ms timer.
    let failing = false;
    const realFsync = fs.fsyncSync;
    jest.spyOn(fs, 'fsyncSync').mockImplementation((fd: number) => {
      if (failing && readlinkSync(`/proc/self/fd/${fd}`) === journalPath) {
        throw Object.assign(new Error('EIO: i/o error, fsync'), { code: 'EIO', errno: -5, syscall: 'fsync' });
      }
      return realFsync(fd);
    });
    // The first batch is accepted (and journaled); every later one hangs, so only the journal's
    // timer can end the replay before its (long) timeout.
    collector.behaviour = (_request, index) => {
      failing = true;
      return index === 0 ? { status: 200 } : { hang: true };
    };

    const error = await replayDeadLetters(path, {
      collectorUrl: collector.endpoint,
      timeoutMs: 30_000,
      concurrency: 2,
      batchSize: 10,
      logger,
    }).catch((err: unknown) => err);

    expect(error).toBeInstanceOf(StorageError);
    expect(error).toMatchObject({ path: journalPath, code: 'STORAGE_FAILED' });
    expect((error as Error).message).toBe(
      `Snowplow event store ${journalPath}: cannot sync the replay journal: EIO: i/o error, fsync`,
    );
    // Nothing of the file is lost: not rewritten, every line in it; the journal kept beside it.
    expect(readFileSync(path, 'utf8')).toBe(text);
    const journal = readFileSync(journalPath, 'latin1').trim().split('\n');
    expect(journal).toHaveLength(1 + 10);
    // The sending stopped at once: the hung requests were aborted, no batch sent after them.
    expect(collector.requests).toHaveLength(3);
    await waitFor(() => collector.inFlight === 0, { timeoutMs: 10_000, what: 'the hung requests to be aborted' });
    expect(logger.lines.at(-1)).toBe(
      `the replay stopped: Snowplow event store ${journalPath}: cannot sync the replay journal: EIO: i/o error, ` +
        `fsync; ${path} is left as it is, every line still in it: run the replay again once the journal can be ` +
        'written (the lines its journal could not keep are sent again, with the same eids)',
    );
    // (No uncaught exception: test/support/no-unhandled-errors.ts fails the test otherwise.)

    // Once the disk is fixed, the next replay skips the lines the journal kept and delivers the rest.
    failing = false;
    jest.restoreAllMocks();
    collector.behaviour = undefined;
    expect(await replayDeadLetters(path, { collectorUrl: collector.endpoint, logger })).toMatchObject({
      total: 40,
      delivered: 40,
      resumed: 10,
      remaining: 0,
    });
  });

  it('on a real full disk, stops at the journal write that fails and rejects naming the journal; the file stays whole', async () => {
    const disk = mountTmpfs('1m');
    try {
      const file = join(disk, 'dead-letters.jsonl');
      const written = records(300, { billing: 300 });
      const text = jsonl(written);
      writeFileSync(file, text);
      // The disk fills up while the first batch is on its way; later batches hang, so only the
      // journal's failure can end the replay before its timeout.
      collector.behaviour = (_request, index) => {
        if (index > 0) return { hang: true };
        fillDisk(disk);
        return { status: 200 };
      };
      const error = await replayDeadLetters(file, {
        collectorUrl: collector.endpoint,
        timeoutMs: 30_000,
        concurrency: 1,
        // 200 journal entries (~6 KB) need more than the journal's first page: that write meets the full disk.
        batchSize: 200,
        logger,
      }).catch((err: unknown) => err);

      expect(error).toBeInstanceOf(StorageError);
      expect(error).toMatchObject({ path: `${file}.replay-journal` });
      expect((error as Error).message).toMatch(/cannot write the replay journal: ENOSPC/);
      expect(readFileSync(file, 'utf8')).toBe(text);
      expect(collector.requests.length).toBeLessThanOrEqual(2);
      await waitFor(() => collector.inFlight === 0, { timeoutMs: 10_000, what: 'the hung request to be aborted' });
    } finally {
      unmountTmpfs(disk);
    }
  });

  it('names the journal and the cause when it cannot be opened (a name too long), sending nothing', async () => {
    // The file's own name fits; with ".replay-journal" after it, the journal's does not.
    const file = join(dir.path, `${'d'.repeat(240)}.jsonl`);
    const text = jsonl(records(1));
    writeFileSync(file, text);
    const error = await replayDeadLetters(file, { collectorUrl: collector.endpoint, logger }).catch(
      (err: unknown) => err,
    );
    expect(error).toBeInstanceOf(StorageError);
    expect(error).toMatchObject({ path: `${file}.replay-journal` });
    expect((error as Error).message).toMatch(
      /^Snowplow event store .*\.replay-journal: cannot read the replay journal: ENAMETOOLONG: name too long/,
    );
    expect(readFileSync(file, 'utf8')).toBe(text);
    expect(collector.requests).toHaveLength(0);
  });

  it('refuses a journal path that is a symbolic link, and leaves its target untouched', async () => {
    const written = records(3, { billing: 3 });
    writeFileSync(path, jsonl(written));
    const target = join(dir.path, 'precious.txt');
    writeFileSync(target, 'precious content\n', { mode: 0o644 });
    symlinkSync(target, journalPath);

    const error = await replayDeadLetters(path, { collectorUrl: collector.endpoint, logger }).catch(
      (err: unknown) => err,
    );
    expect(error).toBeInstanceOf(StorageError);
    expect(error).toMatchObject({ path: journalPath });
    expect((error as Error).message).toBe(
      `Snowplow event store ${journalPath}: the replay journal is a symbolic link, which is never followed ` +
        '(its target would be overwritten); remove the link, then replay again',
    );
    expect(readFileSync(target, 'utf8')).toBe('precious content\n');
    expect(statSync(target).mode & 0o777).toBe(0o644);
    expect(readFileSync(path, 'utf8')).toBe(jsonl(written));
    expect(collector.requests).toHaveLength(0);

    // A dangling link is refused the same way: nothing is created where it points.
    const nowhere = join(dir.path, 'nowhere');
    fs.rmSync(journalPath);
    symlinkSync(nowhere, journalPath);
    await expect(replayDeadLetters(path, { collectorUrl: collector.endpoint, logger })).rejects.toThrow(
      'the replay journal is a symbolic link',
    );
    expect(existsSync(nowhere)).toBe(false);
    expect(readFileSync(path, 'utf8')).toBe(jsonl(written));
  });
});
