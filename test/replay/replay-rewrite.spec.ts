// The final rewrite of a replayed file, where it meets the world: lines appended while it writes, a
// full disk, a file it cannot rename over (a bind mount, as a container's one-file volume is), a
// directory that cannot be synced, and files that are not regular files.
// node's own module object (not an interop copy), so a spy on it is what lib/ calls.
import fs = require('node:fs');
import { spawnSync } from 'node:child_process';
import {
  appendFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createServer, Server } from 'node:net';
import { join } from 'node:path';
import { replayDeadLetters, StorageError } from '../../lib/core';
import { LocalCollector, startLocalCollector } from '../../lib/testing/local-collector';
import { fillDisk, fillInodes, mountTmpfs, unmountTmpfs } from '../storage/support/tmpfs';
import { jsonl, recordingLogger, records, useTempDir } from '../dead-letter/support/records';
import { counts } from './support/results';

/** The files under `dir` this process holds open (a descriptor a replay forgot to close). */
function descriptorsUnder(dir: string): string[] {
  const open: string[] = [];
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      const target = readlinkSync(`/proc/self/fd/${fd}`);
      if (target === dir || target.startsWith(`${dir}/`)) open.push(target);
    } catch {
      // Closed since the listing.
    }
  }
  return open;
}

describe('replayDeadLetters, its final rewrite', () => {
  const dir = useTempDir();
  let collector: LocalCollector;
  let path: string;
  let tmp: string;
  const logger = recordingLogger();
  beforeEach(async () => {
    collector = await startLocalCollector();
    path = join(dir.path, 'dead-letters.jsonl');
    tmp = `${path}.${process.pid}.tmp`;
    logger.lines.length = 0;
  });
  afterEach(async () => {
    jest.restoreAllMocks();
    await collector.close();
  });

  const replay = (file = path) =>
    replayDeadLetters(file, { collectorUrl: collector.endpoint, timeoutMs: 10_000, logger });
  const eidsSent = () =>
    collector.requests.flatMap((request) => JSON.parse(request.body).data.map((event: { eid: string }) => event.eid));

  /**
   * Runs `onSync` each time the rewrite has written its new file and syncs it (node's own fsyncSync,
   * run after it): the moment a line appended to the old file would otherwise be lost.
   */
  function whenTheNewFileIsSynced(onSync: () => void): void {
    const realFsync = fs.fsyncSync;
    jest.spyOn(fs, 'fsyncSync').mockImplementation((fd: number) => {
      realFsync(fd);
      if (readlinkSync(`/proc/self/fd/${fd}`) === tmp) onSync();
    });
  }

  it('writes the file again when a line was appended once it had read it, keeping that line', async () => {
    const written = records(3);
    const [late] = records(1, { billing: 1 });
    writeFileSync(path, jsonl(written));
    let rewrites = 0;
    whenTheNewFileIsSynced(() => {
      rewrites++;
      if (rewrites === 1) appendFileSync(path, jsonl([late]));
    });

    expect(await replay()).toEqual(counts({ total: 3, delivered: 3, remaining: 1, appended: 1 }));
    expect(rewrites).toBe(2);
    expect(readFileSync(path, 'utf8')).toBe(jsonl([late]));
    expect(eidsSent()).not.toContain(late.eid);
    expect(readdirSync(dir.path)).toEqual(['dead-letters.jsonl']);
  });

  it('keeps lines around its 128 KB write buffer byte for byte, and one appended past the first 128 KB read', async () => {
    const [record] = records(1);
    // After the first kept line, the second fills the buffer to one byte past its end with its
    // newline; the third is exactly as long as the buffer. The file is over 2 x 128 KB long.
    const kept = ['a'.repeat(100), 'b'.repeat(131_072 - 101), 'c'.repeat(131_072), 'd'.repeat(10)];
    writeFileSync(path, `${JSON.stringify(record)}\n${kept.join('\n')}\n`);
    // Appended while the replay sends: the rewrite reads it in chunks the first read never saw.
    const late = 'e'.repeat(300_000);
    collector.behaviour = () => {
      appendFileSync(path, `${late}\n`);
      return { status: 200 };
    };

    expect(await replay()).toEqual(counts({ total: 5, delivered: 1, invalid: 4, remaining: 5, appended: 1 }));
    expect(readFileSync(path, 'utf8')).toBe(`${[...kept, late].join('\n')}\n`);
    expect(descriptorsUnder(dir.path)).toEqual([]);
  });

  it('gives up after five rewrites when lines keep arriving, leaving the file and its journal for the next replay', async () => {
    const written = records(3);
    const late = records(5);
    writeFileSync(path, jsonl(written));
    let rewrites = 0;
    whenTheNewFileIsSynced(() => appendFileSync(path, jsonl([late[rewrites++]])));

    const error = await replay().catch((err: unknown) => err);
    expect(error).toBeInstanceOf(StorageError);
    expect(error).toMatchObject({ path, code: 'STORAGE_FAILED' });
    expect((error as Error).message).toBe(
      `Snowplow event store ${path}: kept growing during the rewrite (3 of its 3 lines were delivered); left as ` +
        'it is, and its replay journal kept, so the next replay skips the delivered lines. Replay only files no ' +
        'process is writing to',
    );
    expect(rewrites).toBe(5);
    expect(readFileSync(path, 'utf8')).toBe(jsonl([...written, ...late]));
    expect(readdirSync(dir.path).sort()).toEqual(['dead-letters.jsonl', 'dead-letters.jsonl.replay-journal']);

    // Once nothing writes to it, the next replay sends nothing again and removes the delivered lines.
    jest.restoreAllMocks();
    const sent = eidsSent().length;
    expect(await replay()).toEqual(counts({ total: 8, delivered: 8, resumed: 3, remaining: 0 }));
    expect(eidsSent().slice(sent).sort()).toEqual(late.map((record) => record.eid).sort());
    expect(readFileSync(path, 'utf8')).toBe('');
  });

  it('leaves the file as it is when the new file meets a full disk, and finishes once there is room', async () => {
    const disk = mountTmpfs('1m');
    try {
      const file = join(disk, 'dead-letters.jsonl');
      const written = records(3, { billing: 3 });
      const text = `${jsonl(written)}not a record\n`;
      writeFileSync(file, text);
      let filler = '';
      collector.behaviour = () => {
        filler ||= fillDisk(disk);
        return { status: 200 };
      };

      const error = await replay(file).catch((err: unknown) => err);
      const newFile = `${file}.${process.pid}.tmp`;
      expect(error).toBeInstanceOf(StorageError);
      expect(error).toMatchObject({ path: newFile });
      expect((error as Error).message).toBe(
        `Snowplow event store ${newFile}: cannot write the rewritten dead-letter file (3 of its 4 lines were ` +
          'delivered); the file is left as it is: ENOSPC: no space left on device, write',
      );
      expect(readFileSync(file, 'utf8')).toBe(text);
      expect(readdirSync(disk).sort()).toEqual(['dead-letters.jsonl', 'dead-letters.jsonl.replay-journal', 'filler']);
      expect(descriptorsUnder(disk)).toEqual([]);

      rmSync(filler);
      const requests = collector.requests.length;
      expect(await replay(file)).toEqual(counts({ total: 4, delivered: 3, resumed: 3, invalid: 1, remaining: 1 }));
      expect(collector.requests).toHaveLength(requests);
      expect(readFileSync(file, 'utf8')).toBe('not a record\n');
    } finally {
      unmountTmpfs(disk);
    }
  });

  it('leaves the file as it is when its new file cannot even be created (no inode left), and says why', async () => {
    const disk = mountTmpfs('1m', 64);
    try {
      const file = join(disk, 'dead-letters.jsonl');
      const fillers = join(disk, 'fillers');
      mkdirSync(fillers);
      const written = records(3, { billing: 3 });
      const text = `${jsonl(written)}not a record\n`;
      writeFileSync(file, text);
      let full = false;
      collector.behaviour = () => {
        if (!full) fillInodes(fillers);
        full = true;
        return { status: 200 };
      };

      const error = await replay(file).catch((err: unknown) => err);
      const newFile = `${file}.${process.pid}.tmp`;
      expect(error).toBeInstanceOf(StorageError);
      expect(error).toMatchObject({ path: newFile });
      expect((error as Error).message).toBe(
        `Snowplow event store ${newFile}: cannot write the rewritten dead-letter file (3 of its 4 lines were ` +
          `delivered); the file is left as it is: ENOSPC: no space left on device, open '${newFile}'`,
      );
      expect(readFileSync(file, 'utf8')).toBe(text);
      expect(readdirSync(disk).sort()).toEqual(['dead-letters.jsonl', 'dead-letters.jsonl.replay-journal', 'fillers']);
      expect(descriptorsUnder(disk)).toEqual([]);

      rmSync(fillers, { recursive: true });
      const requests = collector.requests.length;
      expect(await replay(file)).toEqual(counts({ total: 4, delivered: 3, resumed: 3, invalid: 1, remaining: 1 }));
      expect(collector.requests).toHaveLength(requests);
      expect(readFileSync(file, 'utf8')).toBe('not a record\n');
    } finally {
      unmountTmpfs(disk);
    }
  });

  it('leaves a file it cannot rename over (a bind mount) as it is, without its new file, and says why', async () => {
    const written = records(2);
    const source = join(dir.path, 'mounted.jsonl');
    writeFileSync(source, jsonl(written));
    writeFileSync(path, '');
    const mount = spawnSync('mount', ['--bind', source, path], { encoding: 'utf8' });
    if (mount.status !== 0) throw new Error(`mount --bind was refused (${mount.stderr.trim()}); run the tests as root`);
    try {
      const error = await replay().catch((err: unknown) => err);
      expect(error).toBeInstanceOf(StorageError);
      expect(error).toMatchObject({ path });
      expect((error as Error).message).toBe(
        `Snowplow event store ${path}: cannot rename ${tmp} over it (2 of its 2 lines were delivered); left as it ` +
          `is: EBUSY: resource busy or locked, rename '${tmp}' -> '${path}'`,
      );
      expect(readFileSync(path, 'utf8')).toBe(jsonl(written));
      expect(existsSync(tmp)).toBe(false);
      expect(existsSync(`${path}.replay-journal`)).toBe(true);
      expect(descriptorsUnder(dir.path)).toEqual([]);
    } finally {
      // A descriptor still open on it (a failing run) keeps it busy: then detach it lazily.
      if (spawnSync('umount', [path]).status !== 0) spawnSync('umount', ['-l', path]);
    }
  });

  it('logs, and still succeeds, when the directory cannot be synced after the rename', async () => {
    writeFileSync(path, jsonl(records(2)));
    const realFsync = fs.fsyncSync;
    jest.spyOn(fs, 'fsyncSync').mockImplementation((fd: number) => {
      // As on platforms that cannot fsync a directory.
      if (readlinkSync(`/proc/self/fd/${fd}`) === dir.path) {
        throw Object.assign(new Error('EINVAL: invalid argument, fsync'), { code: 'EINVAL', syscall: 'fsync' });
      }
      realFsync(fd);
    });
    expect(await replay()).toEqual(counts({ total: 2, delivered: 2, remaining: 0 }));
    expect(readFileSync(path, 'utf8')).toBe('');
    expect(logger.lines).toEqual([
      `could not fsync the directory ${dir.path} after the rewrite: EINVAL: invalid argument, fsync`,
    ]);
  });
});

describe('replayDeadLetters, a line appended just after it measured the file', () => {
  const dir = useTempDir();
  let collector: LocalCollector;
  let path: string;
  const logger = recordingLogger();
  beforeEach(async () => {
    collector = await startLocalCollector();
    path = join(dir.path, 'dead-letters.jsonl');
    logger.lines.length = 0;
  });
  afterEach(async () => {
    jest.restoreAllMocks();
    await collector.close();
  });
  const eidsSent = () =>
    collector.requests.flatMap((request) => JSON.parse(request.body).data.map((event: { eid: string }) => event.eid));

  /** Appends `text` to the file as the replay opens its journal: after it took the file's size, before any read. */
  function appendWhenTheJournalOpens(text: string): void {
    const realOpen = fs.openSync;
    let appended = false;
    jest.spyOn(fs, 'openSync').mockImplementation((...args: Parameters<typeof fs.openSync>) => {
      if (!appended && args[0] === `${path}.replay-journal`) {
        appended = true;
        appendFileSync(path, text);
      }
      return realOpen(...args);
    });
  }

  it.each([
    ['whole', '\n'],
    ['without its newline yet', ''],
  ])('is left for the next replay (%s): not read, not sent, kept as appended', async (_case, newline) => {
    const written = records(3);
    const [late] = records(1, { billing: 1 });
    writeFileSync(path, jsonl(written));
    appendWhenTheJournalOpens(`${JSON.stringify(late)}${newline}`);

    expect(await replayDeadLetters(path, { collectorUrl: collector.endpoint, timeoutMs: 10_000, logger })).toEqual(
      counts({ total: 3, delivered: 3, remaining: 1, appended: 1 }),
    );
    expect(eidsSent().sort()).toEqual(written.map((record) => record.eid).sort());
    expect(readFileSync(path, 'utf8')).toBe(jsonl([late]));
    expect(logger.lines).toEqual([]);
  });
});

describe('replayDeadLetters, of a path that is not a file it can read', () => {
  const dir = useTempDir();
  const logger = recordingLogger();

  it('names the file and the cause when it cannot be opened (a socket), sending nothing', async () => {
    const collector = await startLocalCollector();
    const path = join(dir.path, 'dead-letters.jsonl');
    const server: Server = createServer();
    await new Promise<void>((resolve) => server.listen(path, resolve));
    try {
      const error = await replayDeadLetters(path, { collectorUrl: collector.endpoint, logger }).catch(
        (err: unknown) => err,
      );
      expect(error).toBeInstanceOf(StorageError);
      expect(error).toMatchObject({ path });
      expect((error as Error).message).toBe(
        `Snowplow event store ${path}: cannot read the dead-letter file: ENXIO: no such device or address, open '${path}'`,
      );
      expect(collector.requests).toHaveLength(0);
    } finally {
      await new Promise((resolve) => server.close(resolve));
      await collector.close();
    }
  });

  it('names the file when its directory does not exist', async () => {
    const path = join(dir.path, 'gone', 'dead-letters.jsonl');
    const error = await replayDeadLetters(path, {
      collectorUrl: 'http://127.0.0.1:9/com.snowplowanalytics.snowplow/tp2',
      logger,
    }).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(StorageError);
    expect((error as Error).message).toBe(
      `Snowplow event store ${path}: cannot read the dead-letter file: ENOENT: no such file or directory, stat '${path}'`,
    );
  });
});
