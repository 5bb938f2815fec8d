import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import {
  DeadLetterModeError,
  DeadLetterRecord,
  DeadLetterSymlinkError,
  InvalidOptionError,
  StorageError,
} from '../../lib/core';
import { DeadLetterFile, deadLetterRecord } from '../../lib/dead-letter/dead-letter-file';
import { jsonl, nextTick, recordingLogger, records, trackedEvents, useTempDir } from './support/records';

const ROOT = resolve(__dirname, '../..');

describe('DeadLetterFile', () => {
  const dir = useTempDir();
  const files: DeadLetterFile[] = [];
  let path: string;
  beforeEach(() => {
    path = join(dir.path, 'dead-letters.jsonl');
  });
  afterEach(() => {
    for (const file of files.splice(0)) file.close();
  });

  function open(logger = recordingLogger()): DeadLetterFile {
    const file = new DeadLetterFile(path, { logger });
    files.push(file);
    return file;
  }

  it('writes every append of a tick after that tick, as complete JSONL lines, in order', async () => {
    const file = open();
    const written = records(30, { billing: 10 });
    for (const record of written.slice(0, 20)) file.append([record]);
    file.append(written.slice(20));
    expect(readFileSync(path, 'utf8')).toBe('');
    expect(file.pendingCount).toBe(30);

    await nextTick();
    const text = readFileSync(path, 'utf8');
    expect(text).toBe(jsonl(written));
    const lines = text.split('\n');
    expect(lines.pop()).toBe('');
    expect(lines.map((line) => JSON.parse(line) as DeadLetterRecord)).toEqual(written);
    expect(file.pendingCount).toBe(0);
  });

  it('writes every field of a record, statusCode right after reason', async () => {
    const file = open();
    const [event] = trackedEvents(1, { billing: 1 });
    const at = Date.UTC(2026, 0, 2, 3, 4, 5);
    file.append([deadLetterRecord(event, 'rejected', { statusCode: 400, error: 'HTTP 400' }, at)]);
    await nextTick();
    const line = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
    expect(Object.keys(line)).toEqual(['eid', 'kind', 'reason', 'statusCode', 'error', 'at', 'attempts', 'payload']);
    expect(line).toEqual({
      eid: event.eid,
      kind: 'billing',
      reason: 'rejected',
      statusCode: 400,
      error: 'HTTP 400',
      at: '2026-01-02T03:04:05.000Z',
      attempts: 3,
      payload: JSON.parse(event.json),
    });
    expect((line.payload as Record<string, string>).e).toBe('se');
  });

  it('creates a missing file at once with mode 0600, and leaves an existing file as it is', () => {
    const previous = process.umask(0o022);
    try {
      open();
      expect(statSync(path).mode & 0o777).toBe(0o600);
      expect(readFileSync(path, 'utf8')).toBe('');
    } finally {
      process.umask(previous);
    }
    const existing = join(dir.path, 'existing.jsonl');
    writeFileSync(existing, 'kept as it is\n', { mode: 0o600 });
    chmodSync(existing, 0o400);
    chmodSync(existing, 0o600);
    files.push(new DeadLetterFile(existing, { logger: recordingLogger() }));
    expect(readFileSync(existing, 'utf8')).toBe('kept as it is\n');
    expect(statSync(existing).mode & 0o777).toBe(0o600);
  });

  it('starts a new line after a torn last line rather than joining it', async () => {
    writeFileSync(path, '{"eid":"torn', { mode: 0o600 });
    chmodSync(path, 0o600);
    const file = open();
    const [record] = records(1);
    file.append([record]);
    await nextTick();
    expect(readFileSync(path, 'utf8')).toBe(`{"eid":"torn\n${JSON.stringify(record)}\n`);
  });

  it('flushSync writes now; close flushes, and appends after close are written at once', () => {
    const file = open();
    const [first, second] = records(2);
    file.append([first]);
    file.flushSync();
    expect(readFileSync(path, 'utf8')).toBe(jsonl([first]));
    file.close();
    file.append([second]);
    expect(readFileSync(path, 'utf8')).toBe(jsonl([first, second]));
  });

  it('logs each line it cannot write in full at error level, drops it, and writes later ones', async () => {
    const logger = recordingLogger();
    const file = open(logger);
    const lost = records(2, { billing: 1 });
    // A directory where the file was: open() fails for root too.
    rmSync(path);
    mkdirSync(path);
    expect(() => file.append(lost)).not.toThrow();
    await nextTick();

    expect(logger.lines).toHaveLength(2);
    lost.forEach((record, i) => {
      expect(logger.lines[i]).toContain(`could not write a dead letter to ${path} (EISDIR`);
      const logged = logger.lines[i].slice(logger.lines[i].indexOf('{'));
      expect(JSON.parse(logged)).toEqual(record);
    });
    expect(file.pendingCount).toBe(0);

    rmSync(path, { recursive: true });
    const [later] = records(1);
    file.append([later]);
    await nextTick();
    expect(readFileSync(path, 'utf8')).toBe(jsonl([later]));
    expect(logger.lines).toHaveLength(2);
  });

  it('refuses a symbolic link at the path (O_NOFOLLOW) with DeadLetterSymlinkError, and leaves its target untouched', async () => {
    const target = join(dir.path, 'world-readable.log');
    writeFileSync(target, 'someone else\n', { mode: 0o644 });
    chmodSync(target, 0o644);
    symlinkSync(target, path);
    expect(() => open()).toThrow(DeadLetterSymlinkError);
    expect(() => open()).toThrow(
      `Snowplow dead-letter file refused: it is a symbolic link, and billing records never go to the file a link points to (set deadLetter.path to the real file): ${path}`,
    );
    try {
      open();
    } catch (err) {
      expect(err).toMatchObject({ code: 'DEAD_LETTER_SYMLINK', path });
    }
    expect(readFileSync(target, 'utf8')).toBe('someone else\n');

    // A link put in place after the file was opened is refused at the next write: the lines are logged in full.
    rmSync(path);
    const logger = recordingLogger();
    const failures: number[] = [];
    const file = new DeadLetterFile(path, { logger, onWriteFailure: (count) => failures.push(count) });
    files.push(file);
    rmSync(path);
    symlinkSync(target, path);
    const [record] = records(1, { billing: 1 });
    file.append([record]);
    await nextTick();
    expect(readFileSync(target, 'utf8')).toBe('someone else\n');
    expect(failures).toEqual([1]);
    expect(logger.lines).toEqual([expect.stringContaining('is a symbolic link')]);
    expect(logger.lines[0]).toContain(JSON.stringify(record));
  });

  it('refuses an existing regular file that its group or others may access, naming the path and the mode', () => {
    for (const mode of [0o644, 0o640, 0o604, 0o660]) {
      writeFileSync(path, 'kept\n');
      chmodSync(path, mode);
      const octal = `0${mode.toString(8)}`;
      expect(() => open()).toThrow(DeadLetterModeError);
      expect(() => open()).toThrow(`Snowplow dead-letter file refused: it has mode ${octal}, so its group`);
      expect(() => open()).toThrow(`(chmod it to 600, or choose another path): ${path}`);
      try {
        open();
      } catch (err) {
        expect(err).toMatchObject({ code: 'DEAD_LETTER_MODE', path, mode: expect.any(Number) });
        expect((err as DeadLetterModeError).mode & 0o777).toBe(mode);
      }
      expect(readFileSync(path, 'utf8')).toBe('kept\n');
      expect(statSync(path).mode & 0o777).toBe(mode);
    }
    chmodSync(path, 0o600);
    expect(() => open()).not.toThrow();
  });

  it('takes a device as it is (no mode check): /dev/null swallows the lines, /dev/full fails each write and says so', async () => {
    const nullFile = new DeadLetterFile('/dev/null', { logger: recordingLogger() });
    files.push(nullFile);
    expect(nullFile.appendNow(records(1))).toBeUndefined();

    const logger = recordingLogger();
    const failures: number[] = [];
    const full = new DeadLetterFile('/dev/full', { logger, onWriteFailure: (count) => failures.push(count) });
    files.push(full);
    const queued = records(2, { billing: 1 });
    const now = records(3);
    full.append(queued);
    // appendNow writes queued lines first, in the same write; on failure only those are logged
    // (the caller still holds the events of its own records) and every line is counted.
    expect(full.appendNow(now)).toMatch(/ENOSPC/);
    expect(failures).toEqual([5]);
    expect(logger.lines).toHaveLength(2);
    queued.forEach((record, i) => expect(logger.lines[i]).toContain(JSON.stringify(record)));
    expect(full.pendingCount).toBe(0);
  });

  it('a throwing onWriteFailure hook changes nothing: the line is still logged in full', async () => {
    const logger = recordingLogger();
    const file = new DeadLetterFile('/dev/full', {
      logger,
      onWriteFailure: () => {
        throw new Error('metrics broke');
      },
    });
    files.push(file);
    const [record] = records(1);
    expect(() => file.append([record])).not.toThrow();
    await nextTick();
    expect(logger.lines).toEqual([expect.stringContaining(JSON.stringify(record))]);
    expect(() => new DeadLetterFile(path, { onWriteFailure: 5 as never })).toThrow(InvalidOptionError);
  });

  it('a throwing custom logger does not make append throw', async () => {
    const file = open({
      lines: [],
      warn: () => undefined,
      error: () => {
        throw new Error('logger down');
      },
    });
    rmSync(path);
    mkdirSync(path);
    const stderr = jest.spyOn(console, 'error').mockImplementation(() => undefined);
    try {
      file.append(records(1));
      await nextTick();
      expect(stderr).toHaveBeenCalledWith(expect.stringContaining('the record follows in full: {"eid":'));
    } finally {
      stderr.mockRestore();
    }
  });

  it.each([[''], ['   '], [42], ['a\0b']])('refuses the path %j: InvalidOptionError naming deadLetter.path', (bad) => {
    const attempt = () => new DeadLetterFile(bad as string);
    expect(attempt).toThrow(InvalidOptionError);
    expect(attempt).toThrow(expect.objectContaining({ option: 'deadLetter.path' }));
  });

  it('fails at construction with a StorageError naming the path when the directory is missing', () => {
    const missing = join(dir.path, 'no-such-dir', 'dead-letters.jsonl');
    const attempt = () => new DeadLetterFile(missing);
    expect(attempt).toThrow(StorageError);
    expect(attempt).toThrow(expect.objectContaining({ path: missing }));
    expect(attempt).toThrow(/ENOENT/);
  });
});

describe('deadLetterRecord', () => {
  it('takes the payload from the queued json without stm, and defaults kind to custom', () => {
    const [event] = trackedEvents(1);
    const { kind: _kind, ...unkinded } = event;
    const withStm = { ...unkinded, json: `{"stm":"1",${event.json.slice(1)}` };
    const record = deadLetterRecord(withStm, 'overflow', { error: 'queue full' }, new Date('2026-05-06T07:08:09.010Z'));
    expect(record).toEqual({
      eid: event.eid,
      kind: 'custom',
      reason: 'overflow',
      error: 'queue full',
      at: '2026-05-06T07:08:09.010Z',
      attempts: 3,
      payload: JSON.parse(event.json),
    });
    expect('statusCode' in record).toBe(false);
  });

  it('never throws: an unreadable json goes into error and leaves the payload empty', () => {
    const [event] = trackedEvents(1);
    const record = deadLetterRecord({ ...event, json: '{broken' }, 'rejected', { statusCode: 400, error: 'HTTP 400' });
    expect(record.payload).toEqual({});
    expect(record.error).toMatch(/^HTTP 400; payload unreadable \(.*\): \{broken$/);
  });
});

describe('DeadLetterFile in a process that dies', () => {
  const dir = useTempDir();

  function runWriter(end: 'exit' | 'throw' | 'reject') {
    const file = join(dir.path, 'dead-letters.jsonl');
    const writer = join(__dirname, '../fixtures/apps/dead-letter-writer.ts');
    const child = spawn(process.execPath, ['-r', '@swc-node/register', writer], {
      cwd: ROOT,
      env: { ...process.env, FILE: file, COUNT: '3', END: end },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    return new Promise<{ code: number | null; eids: string[]; stderr: string; lines: DeadLetterRecord[] }>((done) =>
      child.on('close', (code) => {
        const text = readFileSync(file, 'utf8');
        const lines = text
          .split('\n')
          .filter((line) => line !== '')
          .map((line) => JSON.parse(line) as DeadLetterRecord);
        done({ code, eids: stdout ? (JSON.parse(stdout) as string[]) : [], stderr, lines });
      }),
    );
  }

  it.each([
    ['process.exit(1)', 'exit', /^$/],
    ['an uncaught exception', 'throw', /crash after append/],
    ['an unhandled rejection', 'reject', /unhandled after append/],
  ] as const)('still writes the lines appended in its last tick on %s', async (_name, end, message) => {
    const { code, eids, stderr, lines } = await runWriter(end);
    expect(code).toBe(1);
    expect(stderr).toMatch(message);
    expect(eids).toHaveLength(3);
    expect(lines.map((line) => line.eid)).toEqual(eids);
    expect(lines.map((line) => line.kind)).toEqual(['billing', 'custom', 'custom']);
  });
});
