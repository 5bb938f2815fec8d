// How a replay reads the lines of a dead-letter file: what counts as a record, the last line of a
// file that has no newline yet, lines written by other tools, and eids that JSON escapes.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DeadLetterRecord, replayDeadLetters } from '../../lib/core';
import { LocalCollector, startLocalCollector } from '../../lib/testing/local-collector';
import { jsonl, recordingLogger, records, useTempDir } from '../dead-letter/support/records';
import { counts } from './support/results';

describe('replayDeadLetters, reading the lines of the file', () => {
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
  const advice =
    'it is not sent and stays in the file as it is: inspect it, then fix or remove it (a replay never sends it as it is)';

  it('keeps, and names, every line that is JSON but not a record it can send as it was', async () => {
    const [good, base] = records(2);
    const line = (change: (record: Record<string, unknown>, payload: Record<string, unknown>) => void) => {
      const record = JSON.parse(JSON.stringify(base)) as Record<string, unknown>;
      change(record, record.payload as Record<string, unknown>);
      return JSON.stringify(record);
    };
    const lines = [
      JSON.stringify(good),
      line((record) => (record.payload = 'e=se')),
      line((record, payload) => (record.eid = payload.eid = '')),
      line((record) => (record.eid = 7)),
      line((_record, payload) => (payload.tna = 7)),
      line((_record, payload) => (payload.eid = 'another')),
      line((_record, payload) => delete payload.e),
      line((_record, payload) => (payload.dtm = `x${payload.dtm as string}`)),
      line((_record, payload) => (payload.dtm = `${payload.dtm as string}x`)),
      line((_record, payload) => (payload.dtm = '1'.repeat(16))),
    ];
    writeFileSync(path, `${lines.join('\n')}\n`);

    expect(await replay()).toEqual(counts({ total: 10, delivered: 1, invalid: 9, remaining: 9 }));
    expect(eidsSent()).toEqual([good.eid]);
    expect(readFileSync(path, 'utf8')).toBe(`${lines.slice(1).join('\n')}\n`);
    expect(logger.lines).toEqual(
      [2, 3, 4, 5, 6, 7, 8, 9, 10].map((n) => `line ${n} of ${path} is not a dead-letter record; ${advice}`),
    );
  });

  it('reads a last line that has no newline yet, counting it by its number, and skips a blank one', async () => {
    const written = records(2);
    writeFileSync(path, `${jsonl(written)}not a record`);
    expect(await replay()).toEqual(counts({ total: 3, delivered: 2, invalid: 1, remaining: 1 }));
    expect(logger.lines).toEqual([`line 3 of ${path} is not JSON; ${advice}`]);
    expect(readFileSync(path, 'utf8')).toBe('not a record\n');

    const [more] = records(1);
    writeFileSync(path, `${jsonl([more])} \t`);
    expect(await replay()).toEqual(counts({ total: 1, delivered: 1, remaining: 0 }));
    expect(readFileSync(path, 'utf8')).toBe('');
  });

  it('keeps, and names, lines shorter than the start of a record ({"eid":"), between records it sends', async () => {
    const [first, second] = records(2);
    // 7 and 6 bytes: shorter than the 8 bytes of `{"eid":"` that the first read looks for.
    const lines = [JSON.stringify(first), 'garbage', '"text"', JSON.stringify(second)];
    writeFileSync(path, `${lines.join('\n')}\n`);
    expect(await replay()).toEqual(counts({ total: 4, delivered: 2, invalid: 2, remaining: 2 }));
    expect(eidsSent().sort()).toEqual([first.eid, second.eid].sort());
    expect(readFileSync(path, 'utf8')).toBe('garbage\n"text"\n');
    expect(logger.lines).toEqual([
      `line 2 of ${path} is not JSON; ${advice}`,
      `line 3 of ${path} is not a dead-letter record; ${advice}`,
    ]);
  });

  it('sends a record whose eid is not its first key (written by another tool) as any other', async () => {
    const [record] = records(1);
    const { eid, payload, ...rest } = record;
    // The payload first: a quick read of the start of the line must not take a word of it for the eid.
    const line = JSON.stringify({ payload, ...rest, eid });
    writeFileSync(path, `${line}\n`);
    expect(await replay()).toEqual(counts({ total: 1, delivered: 1, remaining: 0 }));
    expect(eidsSent()).toEqual([eid]);
    expect(logger.lines).toEqual([]);
  });

  it('sends records whose eids JSON writes otherwise than as they are (a backslash, a quote, non-ASCII)', async () => {
    const eids = ['legacy\\id-1', 'legacy"id-2', 'légacy-3'];
    const withEid = (record: DeadLetterRecord, eid: string): DeadLetterRecord => ({
      ...record,
      eid,
      payload: { ...record.payload, eid },
    });
    const written = records(3).map((record, i) => withEid(record, eids[i]));
    writeFileSync(path, jsonl(written));
    expect(await replay()).toEqual(counts({ total: 3, delivered: 3, remaining: 0 }));
    expect(eidsSent().sort()).toEqual([...eids].sort());
    expect(logger.lines).toEqual([]);
  });
});
