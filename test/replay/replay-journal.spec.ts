// node's own module object (not an interop copy), so a spy on it is what lib/ calls.
import fs = require('node:fs');
import { createHash } from 'node:crypto';
import {
  existsSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  symlinkSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { replayDeadLetters, StorageError } from '../../lib/core';
import { ReplayJournal } from '../../lib/replay/journal';
import { LocalCollector, startLocalCollector } from '../../lib/testing/local-collector';
import { waitFor } from '../support/wait-for';
import { fillDisk, mountTmpfs, remountReadOnly, unmountTmpfs } from '../storage/support/tmpfs';
import { jsonl, recordingLogger, records, useTempDir } from '../dead-letter/support/records';

/** The journal key of a line: its length and the start of its SHA-1. */
const keyOf = (line: string) =>
  `${Buffer.byteLength(line)}:${createHash('sha1').update(line).digest('hex').slice(0, 20)}`;

/** What `action` throws (the test fails when it throws nothing). */
function thrownBy(action: () => void): unknown {
  try {
    action();
  } catch (err) {
    return err;
  }
  throw new Error('expected a throw, none came');
}

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

  it('names the journal and the cause when it cannot be read whole (over 2 GiB), sending nothing', async () => {
    const text = jsonl(records(2));
    writeFileSync(path, text);
    // A sparse file: 2 GiB and a byte long, no disk used. It opens; reading it fails.
    writeFileSync(journalPath, '');
    truncateSync(journalPath, 2 ** 31 + 1);
    const error = await replayDeadLetters(path, { collectorUrl: collector.endpoint, logger }).catch(
      (err: unknown) => err,
    );
    expect(error).toBeInstanceOf(StorageError);
    expect(error).toMatchObject({ path: journalPath, code: 'STORAGE_FAILED' });
    expect((error as Error).message).toBe(
      `Snowplow event store ${journalPath}: cannot read the replay journal: File size (2147483649) is greater than 2 GiB`,
    );
    expect(readFileSync(path, 'utf8')).toBe(text);
    expect(statSync(journalPath).size).toBe(2 ** 31 + 1);
    expect(collector.requests).toHaveLength(0);
  });

  it('names the journal and the cause when a journal it read cannot be written (a read-only volume), sending nothing', async () => {
    const disk = mountTmpfs('1m');
    try {
      const file = join(disk, 'dead-letters.jsonl');
      const written = records(3, { billing: 3 });
      const text = jsonl(written);
      writeFileSync(file, text);
      // The journal of an interrupted replay that delivered the first line: read, then opened to continue.
      const { dev, ino } = statSync(file);
      const journal = `${file}.replay-journal`;
      const kept = `nestjs-snowplow replay journal v1 dev=${dev} ino=${ino}\n0 ${keyOf(JSON.stringify(written[0]))}\n`;
      writeFileSync(journal, kept);
      remountReadOnly(disk);

      const error = await replayDeadLetters(file, { collectorUrl: collector.endpoint, logger }).catch(
        (err: unknown) => err,
      );
      expect(error).toBeInstanceOf(StorageError);
      expect(error).toMatchObject({ path: journal, code: 'STORAGE_FAILED' });
      expect((error as Error).message).toBe(
        `Snowplow event store ${journal}: cannot write the replay journal: EROFS: read-only file system, open '${journal}'`,
      );
      expect(readFileSync(file, 'utf8')).toBe(text);
      expect(readFileSync(journal, 'latin1')).toBe(kept);
      expect(collector.requests).toHaveLength(0);
    } finally {
      unmountTmpfs(disk);
    }
  });

  it('ends as usual when its journal was deleted during the replay', async () => {
    const written = records(3, { billing: 3 });
    writeFileSync(path, jsonl(written));
    collector.behaviour = () => {
      rmSync(journalPath, { force: true });
      return { status: 200 };
    };
    expect(await replayDeadLetters(path, { collectorUrl: collector.endpoint, logger })).toMatchObject({
      total: 3,
      delivered: 3,
      remaining: 0,
    });
    expect(readFileSync(path, 'utf8')).toBe('');
    expect(existsSync(journalPath)).toBe(false);
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

describe('ReplayJournal, once a write of it failed', () => {
  it('throws that first failure from every later record and sync, even once the disk has room again, and writes nothing more', () => {
    const disk = mountTmpfs('1m');
    try {
      const file = join(disk, 'dead-letters.jsonl');
      writeFileSync(file, 'a line\n');
      const { dev, ino } = statSync(file);
      const journal = ReplayJournal.open(file, { dev, ino }, () => undefined);
      try {
        const filler = fillDisk(disk);
        // 200 entries (~6 KB) need more than the journal's first page: that write meets the full disk.
        const entries = Array.from({ length: 200 }, (_, i) => ({ offset: i * 100, key: keyOf(`line ${i}`) }));
        const failure = thrownBy(() => journal.record(entries));
        expect(failure).toBeInstanceOf(StorageError);
        expect(failure).toMatchObject({ path: journal.path });
        expect((failure as Error).message).toMatch(
          /: cannot write the replay journal: ENOSPC: no space left on device/,
        );
        const written = readFileSync(journal.path, 'latin1');

        // The disk has room again: the journal still refuses, with the same error (a journal with a
        // hole in it must not look whole), and neither appends nor syncs.
        rmSync(filler);
        expect(thrownBy(() => journal.record([{ offset: 20_000, key: keyOf('later') }]))).toBe(failure);
        expect(thrownBy(() => journal.sync())).toBe(failure);
        expect(thrownBy(() => journal.record([]))).toBe(failure);
        expect(readFileSync(journal.path, 'latin1')).toBe(written);
      } finally {
        journal.close(false);
      }
    } finally {
      unmountTmpfs(disk);
    }
  });
});

describe('ReplayJournal, when it syncs', () => {
  const dir = useTempDir();
  let file: string;
  let journal: ReplayJournal;
  /** fsyncs of the journal (node's own fsyncSync, counted and then run). */
  let syncs = 0;
  const entries = (from: number, count: number) =>
    Array.from({ length: count }, (_, i) => ({ offset: (from + i) * 100, key: keyOf(`line ${from + i}`) }));
  beforeEach(() => {
    file = join(dir.path, 'dead-letters.jsonl');
    writeFileSync(file, 'a line\n');
    syncs = 0;
    const realFsync = fs.fsyncSync;
    jest.spyOn(fs, 'fsyncSync').mockImplementation((fd: number) => {
      if (readlinkSync(`/proc/self/fd/${fd}`) === `${file}.replay-journal`) syncs++;
      return realFsync(fd);
    });
    const { dev, ino } = statSync(file);
    journal = ReplayJournal.open(file, { dev, ino }, () => undefined);
  });
  afterEach(() => {
    jest.restoreAllMocks();
    // (The temporary directory may be gone already: closed without removing.)
    journal.close(false);
  });

  it('syncs as it opens, at once when 1,000 entries are unsynced, and by its timer for fewer', async () => {
    expect(syncs).toBe(1);
    journal.record(entries(0, 999));
    expect(syncs).toBe(1);
    journal.record(entries(999, 1));
    expect(syncs).toBe(2);
    // Counted again from that sync: 999 more wait for the timer.
    journal.record(entries(1_000, 999));
    expect(syncs).toBe(2);
    await waitFor(() => syncs === 3, { timeoutMs: 10_000, what: "the journal's timed sync" });
    // And from the timer's sync: one more entry is synced by a new timer, 999 more do not sync at once.
    journal.record(entries(1_999, 1));
    await waitFor(() => syncs === 4, { timeoutMs: 10_000, what: "the journal's second timed sync" });
    journal.record(entries(2_000, 999));
    expect(syncs).toBe(4);
    expect(readFileSync(journal.path, 'latin1').trim().split('\n')).toHaveLength(1 + 2_999);
  });

  it('syncs what it wrote when closed to be kept, not when closed to be deleted', () => {
    journal.record(entries(0, 5));
    journal.close(false);
    expect(syncs).toBe(2);
    expect(readFileSync(journal.path, 'latin1').trim().split('\n')).toHaveLength(1 + 5);

    const { dev, ino } = statSync(file);
    journal = ReplayJournal.open(file, { dev, ino }, () => undefined);
    expect(journal.delivered.size).toBe(5);
    expect(syncs).toBe(3);
    journal.close(true);
    expect(syncs).toBe(3);
    expect(existsSync(journal.path)).toBe(false);
  });
});
