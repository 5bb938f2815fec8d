import { createHash } from 'node:crypto';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { replayDeadLetters } from '../../lib/core';
import { LocalCollector, startLocalCollector } from '../../lib/testing/local-collector';
import { jsonl, recordingLogger, records, useTempDir } from '../dead-letter/support/records';

/** The journal key of a line: its length and the start of its SHA-1. */
const keyOf = (line: string) =>
  `${Buffer.byteLength(line)}:${createHash('sha1').update(line).digest('hex').slice(0, 20)}`;

describe('replayDeadLetters, its journal', () => {
  const dir = useTempDir();
  let collector: LocalCollector;
  let path: string;
  let journal: string;
  const logger = recordingLogger();
  beforeEach(async () => {
    collector = await startLocalCollector();
    path = join(dir.path, 'dead-letters.jsonl');
    journal = `${path}.replay-journal`;
    logger.lines.length = 0;
  });
  afterEach(() => collector.close());

  const replay = () => replayDeadLetters(path, { collectorUrl: collector.endpoint, timeoutMs: 10_000, logger });
  const header = () => {
    const { dev, ino } = statSync(path);
    return `nestjs-snowplow replay journal v1 dev=${dev} ino=${ino}`;
  };
  const eidsSent = () =>
    collector.requests.flatMap((request) => JSON.parse(request.body).data.map((event: { eid: string }) => event.eid));

  it('continues a journal whose last entry a kill cut short on a line of its own, skipping what it names', async () => {
    const written = records(3);
    const lines = written.map((record) => JSON.stringify(record));
    writeFileSync(path, jsonl(written));
    const cut = `${lines[0].length + 1} ${keyOf(lines[1]).slice(0, 9)}`;
    writeFileSync(journal, `${header()}\n0 ${keyOf(lines[0])}\n${cut}`, { mode: 0o644 });
    // The file changes under the replay: its rewrite is refused and the journal kept, to be read here.
    collector.behaviour = () => {
      writeFileSync(path, 'rewritten by someone else\n');
      return { status: 200 };
    };

    await expect(replay()).rejects.toThrow(/changed during the replay other than by appending lines/);
    expect(eidsSent().sort()).toEqual([written[1].eid, written[2].eid].sort());
    const offsets = [lines[0].length + 1, lines[0].length + lines[1].length + 2];
    expect(readFileSync(journal, 'latin1').split('\n')).toEqual([
      header(),
      `0 ${keyOf(lines[0])}`,
      cut,
      `${offsets[0]} ${keyOf(lines[1])}`,
      `${offsets[1]} ${keyOf(lines[2])}`,
      '',
    ]);
    expect(statSync(journal).mode & 0o777).toBe(0o600);
  });

  it('counts as conflicts only the lines of a conflict its journal does not name as delivered', async () => {
    // An interrupted replay delivered the first line; a different event under its eid came after.
    const [record] = records(1);
    const other = { ...record, payload: { ...record.payload, se_va: '7' } };
    const lines = [JSON.stringify(record), JSON.stringify(other)];
    writeFileSync(path, `${lines.join('\n')}\n`);
    writeFileSync(journal, `${header()}\n0 ${keyOf(lines[0])}\n`);
    expect(await replay()).toEqual({
      total: 2,
      delivered: 1,
      resumed: 1,
      remaining: 1,
      conflicts: 1,
      invalid: 0,
      refused: 0,
      unsent: 0,
      appended: 0,
    });
    expect(readFileSync(path, 'utf8')).toBe(`${lines[1]}\n`);
    expect(eidsSent()).toEqual([]);
    // Nothing is said to be left undelivered.
    expect(logger.lines).toEqual([expect.stringMatching(/^lines 1, 2 of .* share eid /)]);
  });

  it('leaves the file untouched when its journal names no line and nothing was delivered', async () => {
    const written = records(2);
    writeFileSync(path, jsonl(written), { mode: 0o640 });
    const { ino } = statSync(path);
    writeFileSync(journal, `${header()}\n`);
    collector.behaviour = () => ({ status: 503 });
    expect(await replayDeadLetters(path, { collectorUrl: collector.endpoint, timeoutMs: 300, logger })).toMatchObject({
      total: 2,
      delivered: 0,
      remaining: 2,
      unsent: 2,
    });
    // Not rewritten: the same inode, its mode kept.
    expect(statSync(path)).toMatchObject({ ino });
    expect(statSync(path).mode & 0o777).toBe(0o640);
    expect(readFileSync(path, 'utf8')).toBe(jsonl(written));
  });

  it('honours only whole entries: a line with anything before or after its offset and key names nothing', async () => {
    const written = records(3);
    const lines = written.map((record) => JSON.stringify(record));
    writeFileSync(path, jsonl(written));
    const second = lines[0].length + 1;
    writeFileSync(journal, `${header()}\nx0 ${keyOf(lines[0])}\n${second} ${keyOf(lines[1])}0\n`);
    expect(await replay()).toMatchObject({ total: 3, delivered: 3, resumed: 0, remaining: 0 });
    expect(eidsSent().sort()).toEqual(written.map((record) => record.eid).sort());
  });
  it('counts every line of an eid as delivered when a killed run noted only one of them', async () => {
    const [record] = records(1);
    const again = { ...record, reason: 'shutdown' as const, at: new Date(0).toISOString() };
    const [other] = records(1);
    const lines = [record, again, other].map((r) => JSON.stringify(r));
    writeFileSync(path, jsonl([record, again, other]));
    writeFileSync(journal, `${header()}\n0 ${keyOf(lines[0])}\n`);
    expect(await replay()).toMatchObject({ total: 3, delivered: 3, resumed: 2, remaining: 0 });
    expect(eidsSent()).toEqual([other.eid]);
    expect(readFileSync(path, 'utf8')).toBe('');
  });
});

describe('replayDeadLetters, lines sharing an eid', () => {
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

  const replay = () => replayDeadLetters(path, { collectorUrl: collector.endpoint, timeoutMs: 10_000, logger });
  const eidsSent = () =>
    collector.requests.flatMap((request) => JSON.parse(request.body).data.map((event: { eid: string }) => event.eid));

  it('groups the records of an eid even when its first line is not a record', async () => {
    const [record] = records(1);
    const again = { ...record, reason: 'shutdown' as const };
    writeFileSync(path, `{"eid":"${record.eid}","payload":7}\n${jsonl([record, again])}`);
    expect(await replay()).toMatchObject({ total: 3, delivered: 2, invalid: 1, remaining: 1 });
    expect(eidsSent()).toEqual([record.eid]);
    expect(readFileSync(path, 'utf8')).toBe(`{"eid":"${record.eid}","payload":7}\n`);
  });

  it('reads a long first line of an eid again whole to compare it with the next', async () => {
    const [record] = records(1);
    const long = { ...record, payload: { ...record.payload, xx: 'x'.repeat(150_000) } };
    const changed = { ...long, payload: { ...long.payload, xx: `${'x'.repeat(149_999)}y` } };
    writeFileSync(path, jsonl([long, { ...long, reason: 'shutdown' }]));
    expect(await replay()).toMatchObject({ total: 2, delivered: 2, conflicts: 0, remaining: 0 });
    expect(eidsSent()).toEqual([record.eid]);

    writeFileSync(path, jsonl([long, changed]));
    expect(await replay()).toMatchObject({ total: 2, delivered: 0, conflicts: 2, remaining: 2 });
  });
});
