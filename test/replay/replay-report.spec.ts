import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DeadLetterRecord, replayDeadLetters, StorageError } from '../../lib/core';
import { advice, summaryLine } from '../../lib/replay/replay.cli';
import { LocalCollector, startLocalCollector } from '../../lib/testing/local-collector';
import { jsonl, recordingLogger, records, useTempDir } from '../dead-letter/support/records';
import { counts } from './support/results';

describe('what a replay says', () => {
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

  it('lists 20 lines of a kind one by one, then says once that more are counted', async () => {
    const [record] = records(1);
    const bad = Array.from({ length: 23 }, (_, i) => `not a record ${i}`);
    writeFileSync(path, `${JSON.stringify(record)}\n${bad.join('\n')}\n`);
    expect(await replay()).toEqual(counts({ total: 24, delivered: 1, remaining: 23, invalid: 23 }));
    const advice =
      'it is not sent and stays in the file as it is: inspect it, then fix or remove it (a replay never sends it as it is)';
    expect(logger.lines).toEqual([
      ...bad.slice(0, 20).map((_, i) => `line ${i + 2} of ${path} is not JSON; ${advice}`),
      `more lines of ${path} like the ones above; they are counted in the summary`,
    ]);
  });

  it('names the first five lines of a conflict and counts them all', async () => {
    const [record] = records(1);
    const versions: DeadLetterRecord[] = Array.from({ length: 6 }, (_, i) => ({
      ...record,
      payload: { ...record.payload, se_va: String(i) },
    }));
    writeFileSync(path, jsonl(versions));
    expect(await replay()).toEqual(counts({ total: 6, remaining: 6, conflicts: 6 }));
    expect(logger.lines).toEqual([
      `lines 1, 2, 3, 4, 5, ... of ${path} share eid ${record.eid} but hold different events; all 6 stay in the ` +
        'file and none was sent (the collector would see two events under one eid): keep the right line, remove ' +
        'the others, and run the replay again',
    ]);
  });

  it('names all five lines of a conflict of five, without "..."', async () => {
    const [record] = records(1);
    const versions: DeadLetterRecord[] = Array.from({ length: 5 }, (_, i) => ({
      ...record,
      payload: { ...record.payload, se_va: String(i) },
    }));
    writeFileSync(path, jsonl(versions));
    expect(await replay()).toEqual(counts({ total: 5, remaining: 5, conflicts: 5 }));
    expect(logger.lines).toEqual([expect.stringMatching(/^lines 1, 2, 3, 4, 5 of .* all 5 stay in the file/)]);
  });

  it('names every cause of the last failures, each with its count, when lines are left at the timeout', async () => {
    const [first, second] = records(2);
    writeFileSync(path, jsonl([first, second]));
    // Each line alone gets its own answer, again and again: two causes.
    collector.behaviour = (request) =>
      request.body.includes(first.eid) && !request.body.includes(second.eid) ? { status: 503 } : { status: 500 };
    expect(await replay(1_500)).toEqual(counts({ total: 2, remaining: 2, unsent: 2 }));
    // In the order the causes first came (the two lines are sent side by side).
    const last = logger.lines.at(-1) as string;
    expect(last).toMatch(
      new RegExp(
        '^2 lines were not delivered before the timeout \\(last failures: the collector answered HTTP 50[03] ×\\d+, ' +
          'the collector answered HTTP 50[03] ×\\d+\\); they stay in ',
      ),
    );
    expect(last).toContain('HTTP 500 ×');
    expect(last).toContain('HTTP 503 ×');
  });

  it('says the requests were still in flight when every line was read but none answered', async () => {
    const written = records(2);
    writeFileSync(path, jsonl(written));
    collector.behaviour = () => ({ hang: true });
    expect(await replay(500)).toEqual(counts({ total: 2, remaining: 2, unsent: 2 }));
    expect(logger.lines).toEqual([
      `2 lines were not delivered before the timeout (their requests were still in flight); they stay in ${path}: ` +
        'run the replay again later, once the collector accepts them (or with a longer timeout)',
    ]);
  });

  it('keeps a line whose first eid is not its last, whatever characters the first one uses', async () => {
    const written = records(4);
    const twoEids = written.slice(1).map((record, i) => {
      const first = ['09AZaz-_', 'x'.repeat(128), 'Mz'][i];
      return JSON.stringify(record).replace('{"eid":', `{"eid":"${first}","eid":`);
    });
    writeFileSync(path, `${JSON.stringify(written[0])}\n${twoEids.join('\n')}\n`);
    expect(await replay()).toEqual(counts({ total: 4, delivered: 1, remaining: 3, invalid: 3 }));
    expect(readFileSync(path, 'utf8')).toBe(`${twoEids.join('\n')}\n`);
    expect(logger.lines).toEqual(
      [2, 3, 4].map((n) => expect.stringMatching(`^line ${n} of .* is a record with two eids;`)),
    );
  });

  it('never groups a line whose first eid is not its last with the lines of its first eid, before or after them', async () => {
    const [x, y, z, w] = records(4);
    const twoEids = (first: string, record: DeadLetterRecord) =>
      JSON.stringify(record).replace('{"eid":', `{"eid":"${first}","eid":`);
    const lines = [twoEids(x.eid, y), JSON.stringify(x), JSON.stringify(z), twoEids(z.eid, w)];
    writeFileSync(path, `${lines.join('\n')}\n`);
    // The records of x and z are sent and removed; the two lines with two eids are kept as invalid.
    expect(await replay()).toEqual(counts({ total: 4, delivered: 2, remaining: 2, invalid: 2 }));
    expect(readFileSync(path, 'utf8')).toBe(`${lines[0]}\n${lines[3]}\n`);
    expect(logger.lines).toEqual(
      [1, 4].map((n) => expect.stringMatching(`^line ${n} of .* is a record with two eids;`)),
    );
  });

  it('skips blank lines of any white space, counting none of them, and leaves them out of the rewrite', async () => {
    const [a, b] = records(2);
    writeFileSync(path, `\t\n${JSON.stringify(a)}\n\r\n \u000b\u000c \n${JSON.stringify(b)}\nnot a record\n\n`);
    expect(await replay()).toEqual(counts({ total: 3, delivered: 2, remaining: 1, invalid: 1 }));
    expect(readFileSync(path, 'utf8')).toBe('not a record\n');
    expect(logger.lines).toEqual([expect.stringMatching(/^line 6 of .* is not JSON;/)]);
  });

  it('fails with a StorageError naming the journal when it is not a file it can read, sending nothing', async () => {
    writeFileSync(path, jsonl(records(1)));
    mkdirSync(`${path}.replay-journal`);
    const failure = replay();
    await expect(failure).rejects.toThrow(StorageError);
    await expect(failure).rejects.toThrow(
      expect.objectContaining({
        path: `${path}.replay-journal`,
        message: `Snowplow event store ${path}.replay-journal: the replay journal is not a regular file; move it aside, then replay again`,
      }),
    );
    expect(collector.requests).toHaveLength(0);
  });
});

describe('the replay command summary and advice', () => {
  const file = 'dl.jsonl';
  const collector = 'https://c.example/tp2';

  it('says how many lines an interrupted replay delivered and which were appended', () => {
    const result = counts({ total: 9, delivered: 5, resumed: 2, remaining: 4, appended: 4 });
    expect(summaryLine(file, collector, result)).toBe(
      `${file}: 5 of 9 lines delivered to ${collector} (2 by an interrupted replay) and removed; 4 kept in the ` +
        'file (4 appended meanwhile)',
    );
    expect(advice(file, result)).toEqual([
      `4 lines appended while the replay ran stay in ${file}; run again to send them`,
    ]);
  });

  it('words each advice for more than one line', () => {
    const result = counts({ total: 10, remaining: 10, unsent: 2, refused: 2, invalid: 2, conflicts: 2, appended: 2 });
    expect(advice(file, result)).toEqual([
      `2 lines not delivered before the timeout stay in ${file}; run again later to retry them`,
      `2 lines refused by the collector stay in ${file}; running again will not help: inspect them (see the ` +
        'errors above), then fix or remove them',
      `2 lines that are not dead-letter records stay in ${file} as they are; inspect, then fix or remove them`,
      `2 lines sharing an eid with a different event stay in ${file}, none sent; keep the right line of each eid, ` +
        'remove the others, and run again',
      `2 lines appended while the replay ran stay in ${file}; run again to send them`,
    ]);
    expect(advice(file, counts({ total: 1, appended: 1, remaining: 1 }))).toEqual([
      `1 line appended while the replay ran stays in ${file}; run again to send them`,
    ]);
    expect(advice(file, counts({ total: 3, delivered: 3 }))).toEqual([]);
  });
});
