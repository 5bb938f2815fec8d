import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DeadLetterRecord, replayDeadLetters } from '../../lib/core';
import { LocalCollector, startLocalCollector } from '../../lib/testing/local-collector';
import { waitFor } from '../support/wait-for';
import { jsonl, recordingLogger, records, useTempDir } from '../dead-letter/support/records';

describe('replayDeadLetters, when lines fail', () => {
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
  /** The eids of every request answered 2xx. */
  const acceptedEids = () => collector.events().map((event) => event.eid);
  const requestsWith = (eid: string) => collector.requests.filter((request) => request.body.includes(eid));

  it('holds back only the events the collector answers 5xx; the others are all delivered', async () => {
    const written = records(209, { billing: 209 });
    // One line in ten: with a backoff for the whole replay, nearly every request would wait.
    const failing = written.filter((_record, index) => index % 10 === 3);
    const isFailing = (body: string) => failing.some((record) => body.includes(record.eid));
    writeFileSync(path, jsonl(written));
    collector.behaviour = (request) => ({ status: isFailing(request.body) ? 500 : 200 });

    const result = await replay(10_000);
    expect(result).toMatchObject({ total: 209, delivered: 188, remaining: 21, unsent: 21, refused: 0 });
    expect(readFileSync(path, 'utf8')).toBe(jsonl(failing));
    const others = written.filter((record) => !failing.includes(record)).map((record) => record.eid);
    expect(acceptedEids().sort()).toEqual(others.sort());
    // All 188 within one replay's timeout, while the 21 failing ones were still being retried: with a
    // backoff for the whole replay (the old code), 55 of 188 went out in 60 s.
    // Each failing event alone was retried with backoff, not given up on.
    for (const record of failing) {
      const alone = requestsWith(record.eid).filter((request) => JSON.parse(request.body).data.length === 1);
      expect(alone.length).toBeGreaterThanOrEqual(2);
    }
    const warning = logger.lines.filter((line) => line.startsWith('the collector answered HTTP 500'));
    expect(warning).toHaveLength(1);
    expect(warning[0]).toContain('they stay in the file and are retried with backoff while the other lines go on');
    expect(logger.lines.at(-1)).toMatch(
      new RegExp(
        '^21 lines were not delivered before the timeout \\(last failures: the collector answered HTTP 500 ×\\d+\\); ' +
          `they stay in ${path}: run the replay again later, once the collector accepts them`,
      ),
    );
    expect(logger.lines.join('\n')).not.toMatch(/drop/i);
  });

  it('keeps an event the collector refuses with 400, says running again will not help, and sends the rest', async () => {
    const written = records(50, { billing: 50 });
    const bad = written[17];
    writeFileSync(path, jsonl(written));
    collector.behaviour = (request) => ({ status: request.body.includes(bad.eid) ? 400 : 200 });

    const result = await replay();
    expect(result).toMatchObject({ total: 50, delivered: 49, remaining: 1, refused: 1, unsent: 0 });
    expect(readFileSync(path, 'utf8')).toBe(jsonl([bad]));
    expect(acceptedEids()).toHaveLength(49);
    // Refused alone once: a 400 is not retried.
    expect(requestsWith(bad.eid).filter((request) => JSON.parse(request.body).data.length === 1)).toHaveLength(1);
    expect(logger.lines).toEqual([
      `line 18 of ${path} (eid ${bad.eid}) was refused: the collector answered HTTP 400 (refused by the collector); ` +
        'it stays in the file: the collector will not take this event as it is, so running the replay again will ' +
        'not help; inspect the line, then fix or remove it',
    ]);
  });

  it('backs off on a Retry-After of 0 or of a date past as without one, and the other lines go on', async () => {
    const written = records(22, { billing: 22 });
    const [zero, past] = [written[3], written[12]];
    writeFileSync(path, jsonl(written));
    const pastDate = new Date(Date.now() - 60_000).toUTCString();
    collector.behaviour = (request) => {
      if (request.body.includes(zero.eid)) return { status: 503, headers: { 'Retry-After': '0' } };
      if (request.body.includes(past.eid)) return { status: 503, headers: { 'Retry-After': pastDate } };
      return { status: 200 };
    };

    // One event per request, so each of the two stands alone.
    const result = await replayDeadLetters(path, {
      collectorUrl: collector.endpoint,
      timeoutMs: 10_000,
      concurrency: 2,
      batchSize: 1,
      logger,
    });
    expect(result).toMatchObject({ total: 22, delivered: 20, remaining: 2, unsent: 2, refused: 0 });
    expect(readFileSync(path, 'utf8')).toBe(jsonl([zero, past]));
    const others = written.filter((record) => record !== zero && record !== past).map((record) => record.eid);
    expect(acceptedEids().sort()).toEqual(others.sort());
    for (const record of [zero, past]) {
      const tries = requestsWith(record.eid);
      // Retried, with the exponential backoff: a handful in its first second (a retry at once made hundreds).
      expect(tries.length).toBeGreaterThanOrEqual(2);
      const firstSecond = tries.filter((request) => request.receivedAt - tries[0].receivedAt < 1_000);
      expect(firstSecond.length).toBeLessThanOrEqual(20);
    }
  });

  it('retries a batch that got no answer (an outage) until the collector is back', async () => {
    const written = records(300, { billing: 300 });
    writeFileSync(path, jsonl(written));
    await collector.close();
    const running = replay(20_000);
    await waitFor(() => logger.lines.some((line) => line.includes('ECONNREFUSED')), { what: 'a refused connection' });
    await collector.reopen();

    expect(await running).toMatchObject({ total: 300, delivered: 300, remaining: 0 });
    expect(new Set(acceptedEids())).toEqual(new Set(written.map((record) => record.eid)));
    expect(logger.lines).toEqual([
      expect.stringMatching(
        /^the request failed \(ECONNREFUSED\) for a request of \d+ lines of .*; they stay in the file and are retried with backoff while the other lines go on/,
      ),
    ]);
  });

  it('keeps every line of an eid whose lines hold different events, sends none of them, and says so', async () => {
    const [a, x, b] = records(3, { billing: 3 });
    const edited: DeadLetterRecord = { ...x, payload: { ...x.payload, se_va: '999' } };
    writeFileSync(path, jsonl([a, x, b, edited]));

    const result = await replay();
    expect(result).toMatchObject({ total: 4, delivered: 2, remaining: 2, conflicts: 2 });
    expect(readFileSync(path, 'utf8')).toBe(jsonl([x, edited]));
    expect(acceptedEids().sort()).toEqual([a.eid, b.eid].sort());
    expect(collector.requests.some((request) => request.body.includes(x.eid))).toBe(false);
    expect(logger.lines).toEqual([
      `lines 2, 4 of ${path} share eid ${x.eid} but hold different events; all 2 stay in the file and none was ` +
        'sent (the collector would see two events under one eid): keep the right line, remove the others, and run ' +
        'the replay again',
    ]);
  });

  it('says what to do about a line that is not a record: it stays in the file as it is', async () => {
    const [record, twice] = records(2);
    // Two "eid" keys: JSON.parse keeps the last, a reader of the first would see another event.
    const twoEids = JSON.stringify(twice).replace('{"eid":', '{"eid":"another-id","eid":');
    writeFileSync(path, `${JSON.stringify(record)}\n{"eid":\n${twoEids}\n`);
    expect(await replay()).toMatchObject({ total: 3, delivered: 1, remaining: 2, invalid: 2 });
    expect(readFileSync(path, 'utf8')).toBe(`{"eid":\n${twoEids}\n`);
    const advice =
      'it is not sent and stays in the file as it is: inspect it, then fix or remove it (a replay never sends it as it is)';
    expect(logger.lines).toEqual([
      `line 2 of ${path} is not JSON; ${advice}`,
      `line 3 of ${path} is a record with two eids; ${advice}`,
    ]);
  });

  it('counts what stays in the file when the deadline passes before the replay reached it', async () => {
    const written = records(3_000);
    writeFileSync(path, `${jsonl(written)}not a record\n`);
    collector.behaviour = () => ({ hang: true });
    expect(await replay(1_000)).toMatchObject({
      total: 3_001,
      delivered: 0,
      remaining: 3_001,
      unsent: 3_000,
      invalid: 1,
    });
    expect(readFileSync(path, 'utf8')).toBe(`${jsonl(written)}not a record\n`);
    expect(collector.requests.length).toBeLessThanOrEqual(8);
    expect(logger.lines).toEqual([
      expect.stringMatching(/^line 3001 of .* is not JSON; it is not sent and stays in the file as it is/),
      `3000 lines were not delivered before the timeout (in flight or not sent yet); they stay in ${path}: ` +
        'run the replay again later, once the collector accepts them (or with a longer timeout)',
    ]);
  });

  it('removes the temporary file of a killed replay at the next start, and only that one', async () => {
    writeFileSync(path, jsonl(records(2)));
    const dead = spawnSync(process.execPath, ['-e', '0']).pid as number;
    // Alive until killed below: it waits on its standard input, which stays open.
    const alive = spawn(process.execPath, ['-e', 'process.stdin.resume()'], { stdio: ['pipe', 'ignore', 'ignore'] });
    try {
      const leftovers = [`dead-letters.jsonl.${dead}.tmp`, `dead-letters.jsonl.${alive.pid}.tmp`];
      const others = [
        `other.jsonl.${dead}.tmp`,
        'dead-letters.jsonl.x1.tmp',
        `dead-letters.jsonl.${dead}.tmp.bak`,
        `dead-letters.jsonl.${dead}.bak`,
        `dead-letters.jsonl.${dead}x.tmp`,
      ];
      for (const name of [...leftovers, ...others]) writeFileSync(join(dir.path, name), 'half a rewrite');

      expect(await replay()).toMatchObject({ total: 2, delivered: 2, remaining: 0 });
      expect(readdirSync(dir.path).sort()).toEqual(['dead-letters.jsonl', leftovers[1], ...others].sort());
      expect(logger.lines).toEqual([
        `removed ${join(dir.path, leftovers[0])}, left by a replay (pid ${dead}) that was killed while rewriting the file`,
      ]);
    } finally {
      alive.kill('SIGKILL');
    }
  });

  it('says so, and goes on, when a leftover of a killed replay cannot be removed (a directory by that name)', async () => {
    writeFileSync(path, jsonl(records(2)));
    const dead = spawnSync(process.execPath, ['-e', '0']).pid as number;
    const leftover = join(dir.path, `dead-letters.jsonl.${dead}.tmp`);
    mkdirSync(join(leftover, 'inside'), { recursive: true });

    expect(await replay()).toMatchObject({ total: 2, delivered: 2, remaining: 0 });
    expect(readdirSync(dir.path).sort()).toEqual(['dead-letters.jsonl', `dead-letters.jsonl.${dead}.tmp`]);
    // (node's words for it vary between versions; the cause is named.)
    expect(logger.lines).toHaveLength(1);
    expect(logger.lines[0].startsWith(`could not remove ${leftover} left by a killed replay: `)).toBe(true);
    expect(logger.lines[0]).toContain('EISDIR');
  });

  it('skips the lines its journal names after a rewrite it refused, once the file is as it was', async () => {
    const written = records(3);
    writeFileSync(path, jsonl(written));
    collector.behaviour = (_request, index) => {
      if (index === 0) writeFileSync(path, 'rewritten by someone else\n');
      return { status: 200 };
    };
    await expect(replay()).rejects.toThrow(/changed during the replay other than by appending lines/);
    const journal = readFileSync(`${path}.replay-journal`, 'latin1').trim().split('\n');
    expect(journal).toHaveLength(4);
    expect(statSync(`${path}.replay-journal`).mode & 0o777).toBe(0o600);

    // The same file (same inode) holds its old lines again: nothing of it is sent twice.
    writeFileSync(path, jsonl(written));
    const requests = collector.requests.length;
    expect(await replay()).toMatchObject({ total: 3, delivered: 3, resumed: 3, remaining: 0 });
    expect(collector.requests).toHaveLength(requests);
    expect(readdirSync(dir.path)).toEqual(['dead-letters.jsonl']);
  });

  it('ignores a journal about another file at that path (the file was replaced since)', async () => {
    const written = records(2);
    writeFileSync(path, jsonl(written));
    const first = `${JSON.stringify(written[0])}`;
    const { createHash } = await import('node:crypto');
    const key = `${Buffer.byteLength(first)}:${createHash('sha1').update(first).digest('hex').slice(0, 20)}`;
    writeFileSync(`${path}.replay-journal`, `nestjs-snowplow replay journal v1 dev=1 ino=1\n0 ${key}\n`);

    expect(await replay()).toMatchObject({ total: 2, delivered: 2, resumed: 0 });
    expect(acceptedEids().sort()).toEqual(written.map((record) => record.eid).sort());
    expect(logger.lines).toEqual([
      `${path}.replay-journal is about another version of the file (it was replaced since); started a new journal`,
    ]);
  });
});
