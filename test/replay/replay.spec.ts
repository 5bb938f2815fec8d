import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DeadLetterRecord, InvalidOptionError, replayDeadLetters, StorageError } from '../../lib/core';
import { DeadLetterFile } from '../../lib/dead-letter/dead-letter-file';
import { decodeValidBody } from '../support/decode';
import { LocalCollector, startLocalCollector } from '../../lib/testing/local-collector';
import { jsonl, nextTick, recordingLogger, records, useTempDir } from '../dead-letter/support/records';
import { counts } from './support/results';

describe('replayDeadLetters', () => {
  const dir = useTempDir();
  let collector: LocalCollector;
  let path: string;
  const logger = recordingLogger();
  beforeEach(async () => {
    collector = await startLocalCollector();
    path = join(dir.path, 'dead-letters.jsonl');
    logger.lines.length = 0;
  });
  afterEach(() => collector.close());

  const replay = (timeoutMs = 10_000) =>
    replayDeadLetters(path, { collectorUrl: collector.endpoint, timeoutMs, logger });

  /** Every event the collector was sent, from every request, schema-validated and decoded. */
  const sentEvents = () => collector.requests.flatMap((request) => decodeValidBody(request.body));

  it('sends each line with its eid, dtm and payload and a fresh stm, then empties the file (0600)', async () => {
    const written = records(6, { billing: 2 });
    written[3].payload.stm = '1';
    writeFileSync(path, jsonl(written), { mode: 0o644 });
    const started = Date.now();
    const previous = process.umask(0o022);
    let result;
    try {
      result = await replay();
    } finally {
      process.umask(previous);
    }

    expect(result).toEqual(counts({ total: 6, delivered: 6, remaining: 0 }));
    const sent = sentEvents();
    expect(sent.map((event) => event.eid).sort()).toEqual(written.map((record) => record.eid).sort());
    const byEid = new Map(sent.map((event) => [event.eid, event.raw]));
    for (const record of written) {
      const { stm, ...raw } = byEid.get(record.eid) as Record<string, string>;
      const { stm: _original, ...payload } = record.payload;
      expect(raw).toEqual(payload);
      expect(raw.dtm).toBe(record.payload.dtm);
      expect(Number(stm)).toBeGreaterThanOrEqual(started);
    }
    expect(sent.filter((event) => event.eventType === 'se')).toHaveLength(2);
    expect(collector.requests.every((request) => !request.body.includes('"stm":"1"'))).toBe(true);
    expect(readFileSync(path, 'utf8')).toBe('');
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(readdirSync(dir.path)).toEqual(['dead-letters.jsonl']);
  });

  it('keeps exactly the line the collector keeps refusing (500) when the deadline passes', async () => {
    const written = records(5, { billing: 1 });
    const refused = written[2];
    writeFileSync(path, jsonl(written));
    collector.behaviour = (request) => ({ status: request.body.includes(refused.eid) ? 500 : 200 });

    expect(await replay(1_500)).toEqual(counts({ total: 5, delivered: 4, remaining: 1, unsent: 1 }));
    expect(readFileSync(path, 'utf8')).toBe(jsonl([refused]));
    const accepted = collector.accepted().flatMap((request) => decodeValidBody(request.body));
    const others = written.filter((record) => record !== refused).map((record) => record.eid);
    expect(accepted.map((event) => event.eid).sort()).toEqual(others.sort());
    expect(collector.requests.filter((request) => request.status === 500).length).toBeGreaterThanOrEqual(1);
  });

  it('keeps lines that are not records untouched, and counts them', async () => {
    const [first, second] = records(2);
    const noPayload = JSON.stringify({ eid: first.eid, kind: 'custom' });
    const mismatched = JSON.stringify({ ...second, eid: 'another-id' });
    const notUtf8 = Buffer.from([0x7b, 0xff, 0xfe, 0x7d]);
    const content = Buffer.concat([
      Buffer.from(`${JSON.stringify(first)}\nnot json at all\n\n   \n${noPayload}\n`),
      notUtf8,
      Buffer.from(`\n${mismatched}\n${JSON.stringify(second)}`),
    ]);
    writeFileSync(path, content);

    expect(await replay()).toEqual(counts({ total: 6, delivered: 2, remaining: 4, invalid: 4 }));
    const expected = Buffer.concat([
      Buffer.from(`not json at all\n${noPayload}\n`),
      notUtf8,
      Buffer.from(`\n${mismatched}\n`),
    ]);
    expect(readFileSync(path)).toEqual(expected);
    expect(
      sentEvents()
        .map((event) => event.eid)
        .sort(),
    ).toEqual([first.eid, second.eid].sort());
  });

  it('keeps lines appended while it runs', async () => {
    const written = records(3);
    const [late] = records(1, { billing: 1 });
    writeFileSync(path, jsonl(written), { mode: 0o600 });
    const writer = new DeadLetterFile(path, { logger });
    try {
      collector.behaviour = (_request, index) => {
        // The replay has read the file by now; a running process adds a line.
        if (index === 0) {
          writer.append([late]);
          writer.flushSync();
        }
        return { status: 200 };
      };
      expect(await replay()).toEqual(counts({ total: 3, delivered: 3, remaining: 1, appended: 1 }));
      expect(readFileSync(path, 'utf8')).toBe(jsonl([late]));
      expect(sentEvents().map((event) => event.eid)).not.toContain(late.eid);

      // The writer opens the file for each write, so it writes into the new file, not the old inode.
      const [after] = records(1);
      writer.append([after]);
      await nextTick();
      expect(readFileSync(path, 'utf8')).toBe(jsonl([late, after]));
    } finally {
      writer.close();
    }
  });

  it('sends a line per eid once, and removes every line of a delivered eid', async () => {
    const [record] = records(1);
    const again: DeadLetterRecord = { ...record, reason: 'shutdown', at: new Date().toISOString() };
    writeFileSync(path, jsonl([record, again]));
    expect(await replay()).toEqual(counts({ total: 2, delivered: 2, remaining: 0 }));
    expect(sentEvents().map((event) => event.eid)).toEqual([record.eid]);
  });

  it('finds the lines of one eid also when the eid is not the first key of the line', async () => {
    const [record, other] = records(2);
    // Written by hand or by another tool: the eid comes last, so the quick read of the eid fails.
    const eidLast = ({ eid, ...rest }: DeadLetterRecord) => JSON.stringify({ ...rest, eid });
    const again: DeadLetterRecord = { ...record, reason: 'shutdown' };
    const changed: DeadLetterRecord = { ...other, payload: { ...other.payload, se_va: '7' } };
    const lines = [eidLast(record), eidLast(again), eidLast(other), eidLast(changed)];
    writeFileSync(path, `${lines.join('\n')}\n`);
    // The same event twice: sent once, both lines removed; two different events under one eid: both kept.
    expect(await replay()).toEqual(counts({ total: 4, delivered: 2, remaining: 2, conflicts: 2 }));
    expect(sentEvents().map((event) => event.eid)).toEqual([record.eid]);
    expect(readFileSync(path, 'utf8')).toBe(`${lines[2]}\n${lines[3]}\n`);
  });

  it('takes the kind from payload.e when the record has none, and sends nothing for an empty file', async () => {
    const [billing] = records(1, { billing: 1 });
    const { kind: _kind, ...unkinded } = billing;
    writeFileSync(path, `${JSON.stringify(unkinded)}\n`);
    expect(await replay()).toEqual(counts({ total: 1, delivered: 1, remaining: 0 }));
    expect(sentEvents()[0].eventType).toBe('se');

    writeFileSync(path, '');
    const requests = collector.requests.length;
    expect(await replay()).toEqual(counts({ total: 0, delivered: 0, remaining: 0 }));
    expect(collector.requests).toHaveLength(requests);
  });

  it('leaves the file as it is when nothing was delivered', async () => {
    const written = records(2);
    writeFileSync(path, jsonl(written), { mode: 0o640 });
    collector.behaviour = () => ({ status: 503 });
    expect(await replay(300)).toEqual(counts({ total: 2, delivered: 0, remaining: 2, unsent: 2 }));
    expect(readFileSync(path, 'utf8')).toBe(jsonl(written));
    expect(statSync(path).mode & 0o777).toBe(0o640);
  });

  it('removes no line for a 3xx: a redirect that is not followed delivered nothing', async () => {
    const written = records(1);
    writeFileSync(path, jsonl(written));
    collector.behaviour = () => ({ status: 302, headers: { Location: '/elsewhere' } });
    expect(await replay(300)).toEqual(counts({ total: 1, delivered: 0, remaining: 1, unsent: 1 }));
    expect(readFileSync(path, 'utf8')).toBe(jsonl(written));
  });

  it('counts the lines appended while it runs also when it delivered none', async () => {
    const written = records(2);
    const [late] = records(1);
    writeFileSync(path, jsonl(written));
    collector.behaviour = (_request, index) => {
      if (index === 0) writeFileSync(path, jsonl([late]), { flag: 'a' });
      return { status: 500 };
    };
    expect(await replay(1_000)).toEqual(counts({ total: 2, remaining: 3, unsent: 2, appended: 1 }));
    expect(readFileSync(path, 'utf8')).toBe(jsonl([...written, late]));
  });

  it('keeps as it is now a line whose event changed while it waited for its retry, never sending the new one', async () => {
    const [record] = records(1);
    // Same length, still a valid record: only the line's bytes tell it changed.
    const edited: DeadLetterRecord = {
      ...record,
      payload: { ...record.payload, tna: record.payload.tna.replace(/^./, (c) => (c === 'x' ? 'y' : 'x')) },
    };
    expect(JSON.stringify(edited).length).toBe(JSON.stringify(record).length);
    writeFileSync(path, jsonl([record]));
    collector.behaviour = (_request, index) => {
      if (index === 0) writeFileSync(path, jsonl([edited]));
      return { status: 500 };
    };
    expect(await replay(3_000)).toEqual(counts({ total: 1, remaining: 1, unsent: 1 }));
    expect(collector.requests).toHaveLength(1);
    expect(readFileSync(path, 'utf8')).toBe(jsonl([edited]));
    expect(logger.lines.at(-1)).toMatch(
      /^line 1 of .* changed while the replay ran; it stays in the file as it is now/,
    );
  });

  it('logs to the console, prefixed, without a logger', async () => {
    const [record] = records(1);
    writeFileSync(path, `not a record\n${jsonl([record])}`);
    collector.behaviour = (_request, index) => ({ status: index === 0 ? 503 : 200 });
    const warn = jest.spyOn(console, 'warn').mockImplementation(() => undefined);
    const error = jest.spyOn(console, 'error').mockImplementation(() => undefined);
    try {
      expect(await replayDeadLetters(path, { collectorUrl: collector.endpoint })).toEqual(
        counts({ total: 2, delivered: 1, remaining: 1, invalid: 1 }),
      );
      expect(error.mock.calls).toEqual([[expect.stringMatching(/^\[nestjs-snowplow\] line 1 of .* is not JSON; /)]]);
      expect(warn.mock.calls).toEqual([
        [expect.stringMatching(/^\[nestjs-snowplow\] the collector answered HTTP 503 for a request of 1 line of /)],
      ]);
    } finally {
      warn.mockRestore();
      error.mockRestore();
    }
  });

  it('refuses to rewrite a file that changed other than by appending', async () => {
    const written = records(2);
    writeFileSync(path, jsonl(written));
    collector.behaviour = (_request, index) => {
      if (index === 0) writeFileSync(path, jsonl(written.slice(1)));
      return { status: 200 };
    };
    const failure = replay();
    await expect(failure).rejects.toThrow(StorageError);
    await expect(failure).rejects.toThrow(
      `Snowplow event store ${path}: changed during the replay other than by appending lines (2 of its 2 lines ` +
        'were delivered); left as it is, and its replay journal kept, so the next replay skips the delivered lines ' +
        'whose bytes did not change. Replay only files no process is writing to',
    );
    expect(readFileSync(path, 'utf8')).toBe(jsonl(written.slice(1)));
  });

  it('fails with typed errors for a missing file and bad options', async () => {
    const missing = join(dir.path, 'missing.jsonl');
    await expect(replayDeadLetters(missing, { collectorUrl: collector.endpoint })).rejects.toThrow(
      expect.objectContaining({ name: 'StorageError', path: missing }),
    );
    await expect(replayDeadLetters('', { collectorUrl: collector.endpoint })).rejects.toThrow(InvalidOptionError);
    await expect(replayDeadLetters(42 as unknown as string, { collectorUrl: collector.endpoint })).rejects.toThrow(
      expect.objectContaining({ name: 'InvalidOptionError', option: 'file' }),
    );
    await expect(replayDeadLetters(path, null as unknown as { collectorUrl: string })).rejects.toThrow(
      expect.objectContaining({
        name: 'InvalidOptionError',
        option: 'options',
        message: expect.stringContaining('must be an object'),
      }),
    );
    writeFileSync(path, '');
    await expect(replayDeadLetters(path, { collectorUrl: 'ftp://x/tp2' })).rejects.toThrow(
      /"collectorUrl": must use http or https/,
    );
    await expect(replayDeadLetters(path, { collectorUrl: collector.endpoint, timeoutMs: 0 })).rejects.toThrow(
      expect.objectContaining({ option: 'timeoutMs' }),
    );
    for (const [option, value] of [
      ['concurrency', 0],
      ['concurrency', 65],
      ['batchSize', 0],
      ['batchSize', 1_001],
      ['batchSize', 1.5],
    ] as const) {
      await expect(replayDeadLetters(path, { collectorUrl: collector.endpoint, [option]: value })).rejects.toThrow(
        expect.objectContaining({ name: 'InvalidOptionError', option }),
      );
    }
    expect(collector.requests).toHaveLength(0);
  });
});
