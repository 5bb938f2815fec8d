import { readFileSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { DeadLetterRecord, replayDeadLetters, ReplayDeadLettersOptions, TokenSource } from '../../lib/core';
import { LocalCollector, startLocalCollector } from '../../lib/testing/local-collector';
import { jsonl, recordingLogger, records, useTempDir } from '../dead-letter/support/records';

/** The eids of one request's events. */
const eidsOf = (body: string): string[] => JSON.parse(body).data.map((event: { eid: string }) => event.eid);

describe('replayDeadLetters, by the collector answer', () => {
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

  const replay = (options: Partial<ReplayDeadLettersOptions> = {}) =>
    replayDeadLetters(path, { collectorUrl: collector.endpoint, timeoutMs: 10_000, logger, ...options });
  const bodies = () => collector.requests.map((request) => request.body);
  const stayAndRetry = 'they stay in the file and are retried with backoff while the other lines go on';

  it.each([
    [401, ' (authentication failed: check the credentials)', 1],
    [403, ' (authentication failed: check the credentials)', 1],
    [404, ' (check the collector URL)', 0],
  ])(
    'a %d waits as a whole batch (never halved), says what to check, then delivers',
    async (status, hint, invalidated) => {
      const written = records(3, { billing: 3 });
      writeFileSync(path, jsonl(written));
      let invalidations = 0;
      const tokenSource: TokenSource = {
        enhanceHeader: async (headers) => {
          headers.Authorization = 'Bearer t';
        },
        invalidate: () => invalidations++,
      };
      collector.behaviour = (_request, index) => (index === 0 ? { status } : { status: 200 });

      expect(await replay({ tokenSource })).toMatchObject({ total: 3, delivered: 3, remaining: 0, refused: 0 });
      // The same three events again, in one request: the answer was about the request, not its events.
      expect(bodies().map(eidsOf)).toEqual([written.map((r) => r.eid), written.map((r) => r.eid)]);
      expect(invalidations).toBe(invalidated);
      expect(logger.lines).toEqual([
        `the collector answered HTTP ${status} for a request of 3 lines of ${path}${hint}; ${stayAndRetry} ` +
          '(further failures of this kind are counted, not listed)',
      ]);
      expect(readFileSync(path, 'utf8')).toBe('');
    },
  );

  it.each([300, 302])('names where a %d pointed and keeps the lines, never following it', async (status) => {
    const written = records(2);
    writeFileSync(path, jsonl(written));
    collector.behaviour = () => ({ status, headers: { Location: '/elsewhere' } });
    expect(await replay({ timeoutMs: 500 })).toMatchObject({ total: 2, delivered: 0, remaining: 2, unsent: 2 });
    // Never halved: every request holds both lines.
    expect(bodies().every((body) => eidsOf(body).length === 2)).toBe(true);
    expect(logger.lines[0]).toBe(
      `the collector answered HTTP ${status} for a request of 2 lines of ${path} to /elsewhere (redirects are not ` +
        `followed: check the URL); ${stayAndRetry} (further failures of this kind are counted, not listed)`,
    );
    expect(logger.lines[1]).toMatch(
      new RegExp(
        `^2 lines were not delivered before the timeout \\(last failures: the collector answered HTTP ${status} ×\\d+\\)`,
      ),
    );
    expect(readFileSync(path, 'utf8')).toBe(jsonl(written));
  });

  it('says to check the URL for a redirect without Location, and retries a 401 with a token source that cannot invalidate', async () => {
    const written = records(1);
    writeFileSync(path, jsonl(written));
    collector.behaviour = (_request, index) =>
      index === 0 ? { status: 307 } : index === 1 ? { status: 401 } : { status: 200 };
    const tokenSource: TokenSource = {
      enhanceHeader: async (headers) => {
        headers.Authorization = 'Bearer t';
      },
    };
    expect(await replay({ tokenSource })).toMatchObject({ total: 1, delivered: 1, remaining: 0 });
    expect(logger.lines).toEqual([
      `the collector answered HTTP 307 for a request of 1 line of ${path} (redirects are not followed: check the ` +
        `URL); ${stayAndRetry} (further failures of this kind are counted, not listed)`,
      `the collector answered HTTP 401 for a request of 1 line of ${path} (authentication failed: check the ` +
        `credentials); ${stayAndRetry} (further failures of this kind are counted, not listed)`,
    ]);
  });

  it('retries a 401 when the credentials are in the URL (no token source), and says so', async () => {
    const written = records(1);
    writeFileSync(path, jsonl(written));
    collector.behaviour = (_request, index) => (index === 0 ? { status: 401 } : { status: 200 });
    const collectorUrl = collector.endpoint.replace('http://', 'http://user:pw@');
    expect(await replay({ collectorUrl })).toMatchObject({ total: 1, delivered: 1, remaining: 0 });
    expect(logger.lines).toEqual([
      `the collector answered HTTP 401 for a request of 1 line of ${path} (authentication failed: check the ` +
        `credentials); ${stayAndRetry} (further failures of this kind are counted, not listed)`,
    ]);
  });

  it('gives a request that got no answer no hint about redirects', async () => {
    writeFileSync(path, jsonl(records(1)));
    const url = collector.endpoint;
    await collector.close();
    const result = await replayDeadLetters(path, { collectorUrl: url, timeoutMs: 500, logger });
    // The afterEach closes the collector again: start one so it has one to close.
    collector = await startLocalCollector();
    expect(result).toMatchObject({ total: 1, delivered: 0, remaining: 1, unsent: 1 });
    expect(logger.lines[0]).toBe(
      `the request failed (ECONNREFUSED) for a request of 1 line of ${path}; ${stayAndRetry} ` +
        '(further failures of this kind are counted, not listed)',
    );
  });

  it('waits a Retry-After as a whole batch, then delivers', async () => {
    const written = records(4, { billing: 4 });
    writeFileSync(path, jsonl(written));
    collector.behaviour = (_request, index) =>
      index === 0 ? { status: 503, headers: { 'Retry-After': '1' } } : { status: 200 };
    expect(await replay()).toMatchObject({ total: 4, delivered: 4, remaining: 0 });
    const [first, second] = collector.requests;
    expect(collector.requests.map((request) => eidsOf(request.body))).toEqual([
      written.map((r) => r.eid),
      written.map((r) => r.eid),
    ]);
    expect(second.receivedAt - first.receivedAt).toBeGreaterThanOrEqual(900);
    expect(logger.lines).toEqual([expect.stringContaining('the collector answered HTTP 503 for a request of 4 lines')]);
  });

  it.each([410, 413, 422])(
    'keeps a line answered %d alone, sent alone once, and delivers the others',
    async (status) => {
      const written = records(6, { billing: 6 });
      const bad = written[4];
      // A second line of the refused event is kept with it.
      const again = { ...bad, reason: 'shutdown' as const };
      writeFileSync(path, jsonl([...written, again]));
      collector.behaviour = (request) => ({ status: request.body.includes(bad.eid) ? status : 200 });
      expect(await replay()).toMatchObject({ total: 7, delivered: 5, remaining: 2, refused: 2, unsent: 0 });
      expect(readFileSync(path, 'utf8')).toBe(jsonl([bad, again]));
      expect(bodies().filter((body) => body.includes(bad.eid) && eidsOf(body).length === 1)).toHaveLength(1);
      expect(logger.lines).toEqual([
        expect.stringMatching(
          new RegExp(
            `^line 5 of .* \\(eid ${bad.eid}\\) was refused: the collector answered HTTP ${status} \\(refused by`,
          ),
        ),
      ]);
    },
  );

  it('frees the place of a refused line: with room for two lines, the lines after it go on', async () => {
    const written = records(4);
    writeFileSync(path, jsonl(written));
    collector.behaviour = (request) => ({ status: request.body.includes(written[0].eid) ? 410 : 200 });
    const result = await replay({ batchSize: 1, concurrency: 1, timeoutMs: 5_000 });
    expect(result).toMatchObject({ total: 4, delivered: 3, refused: 1, remaining: 1, unsent: 0 });
  });

  it('retries a line answered 429 alone (not refused for good) until it is taken', async () => {
    const written = records(4);
    const busy = written[1];
    writeFileSync(path, jsonl(written));
    let refusals = 0;
    collector.behaviour = (request) =>
      request.body.includes(busy.eid) && refusals++ < 3 ? { status: 429 } : { status: 200 };
    expect(await replay()).toMatchObject({ total: 4, delivered: 4, remaining: 0, refused: 0 });
    // Halved until it stood alone, then retried alone.
    expect(bodies().filter((body) => eidsOf(body).join() === busy.eid).length).toBeGreaterThanOrEqual(2);
    expect(logger.lines).toEqual([
      `the collector answered HTTP 429 for a request of 1 line of ${path}; ${stayAndRetry} ` +
        '(further failures of this kind are counted, not listed)',
    ]);
  });

  it('puts no more than 1 MB of events in a request', async () => {
    const written = records(6).map((record, i) => ({
      ...record,
      payload: { ...record.payload, xx: String(i).repeat(300_000) },
    }));
    writeFileSync(path, jsonl(written));
    // The first answer waits until the replay has read the whole file a second time (the first
    // read only surveys it; the second sends): the other lines are all waiting when the second
    // request is made. Node's own FileHandle.read tells when a read reached the end of the file.
    const probe = await open(path, 'r');
    const proto = Object.getPrototypeOf(probe) as { read: (...args: unknown[]) => Promise<{ bytesRead: number }> };
    await probe.close();
    const original = proto.read;
    let endsOfFile = 0;
    let fileRead!: () => void;
    const sendingPassRead = new Promise<void>((resolve) => (fileRead = resolve));
    const read = jest.spyOn(proto, 'read').mockImplementation(async function (this: unknown, ...args: unknown[]) {
      const result = await original.apply(this, args);
      if (result.bytesRead === 0 && ++endsOfFile === 2) fileRead();
      return result;
    });
    collector.behaviour = (_request, index) => ({ status: 200, after: index === 0 ? sendingPassRead : undefined });
    try {
      expect(await replay({ concurrency: 1 })).toMatchObject({ total: 6, delivered: 6, remaining: 0 });
    } finally {
      read.mockRestore();
    }
    expect(bodies().flatMap(eidsOf).sort()).toEqual(written.map((r) => r.eid).sort());
    expect(bodies().every((body) => Buffer.byteLength(body) <= 1_000_000)).toBe(true);
  });

  it('sends at most batchSize events per request', async () => {
    const written = records(7);
    writeFileSync(path, jsonl(written));
    expect(await replay({ batchSize: 3, concurrency: 1 })).toMatchObject({ total: 7, delivered: 7, remaining: 0 });
    expect(bodies().map(eidsOf)).toEqual([
      written.slice(0, 3).map((r) => r.eid),
      written.slice(3, 6).map((r) => r.eid),
      written.slice(6).map((r) => r.eid),
    ]);
  });

  it('sends at most batchSize events per request also when retries pile up while a request is in flight', async () => {
    const written = records(6);
    const eids = written.map((r) => r.eid);
    writeFileSync(path, jsonl(written));
    // The first two batches wait 1 s as told; the third is answered after 2.5 s, when both are due.
    const slowAnswer = () => new Promise((resolve) => setTimeout(resolve, 2_500));
    collector.behaviour = (_request, index) =>
      index < 2
        ? { status: 503, headers: { 'Retry-After': '1' } }
        : index === 2
          ? { status: 200, after: slowAnswer() }
          : { status: 200 };
    expect(await replay({ batchSize: 2, concurrency: 1 })).toMatchObject({ total: 6, delivered: 6, remaining: 0 });
    expect(bodies().map(eidsOf)).toEqual([
      eids.slice(0, 2),
      eids.slice(2, 4),
      eids.slice(4, 6),
      eids.slice(0, 2),
      eids.slice(2, 4),
    ]);
  });

  it('has at most concurrency requests in flight', async () => {
    writeFileSync(path, jsonl(records(10)));
    collector.behaviour = () => ({ hang: true });
    const result = await replay({ batchSize: 1, concurrency: 2, timeoutMs: 2_000 });
    expect(result).toMatchObject({ total: 10, delivered: 0, remaining: 10, unsent: 10 });
    expect(collector.requests).toHaveLength(2);
    expect(collector.maxInFlight).toBe(2);
  });

  it('keeps a line too large for any request as refused, and sends the others', async () => {
    const [small, large] = records(2);
    const huge: DeadLetterRecord = { ...large, payload: { ...large.payload, xx: 'x'.repeat(1_000_000) } };
    writeFileSync(path, jsonl([small, huge]));
    expect(await replay()).toMatchObject({ total: 2, delivered: 1, remaining: 1, refused: 1 });
    expect(readFileSync(path, 'utf8')).toBe(jsonl([huge]));
    expect(bodies().map(eidsOf)).toEqual([[small.eid]]);
    expect(logger.lines).toEqual([
      expect.stringMatching(
        new RegExp(
          `^line 2 of .* \\(eid ${huge.eid}\\) was refused: it is \\d{7} bytes, larger than a request may be;`,
        ),
      ),
    ]);
  });

  it('keeps a line that changed while it waited for its retry as it is now, and says so', async () => {
    const [record] = records(1);
    const line = JSON.stringify(record);
    writeFileSync(path, `${line}\n`);
    // Same length, other bytes: the line read again for the retry is not the one sent.
    const edited = line.replace(
      record.eid,
      record.eid.replace(/^./, (c) => (c === 'a' ? 'b' : 'a')),
    );
    collector.behaviour = (_request, index) => {
      if (index === 0) writeFileSync(path, `${edited}\n`);
      return { status: 500 };
    };
    expect(await replay({ timeoutMs: 3_000 })).toMatchObject({ total: 1, delivered: 0, remaining: 1, unsent: 1 });
    expect(collector.requests).toHaveLength(1);
    expect(readFileSync(path, 'utf8')).toBe(`${edited}\n`);
    expect(logger.lines).toEqual([
      expect.stringContaining('the collector answered HTTP 500 for a request of 1 line of'),
      `line 1 of ${path} (eid ${record.eid}) changed while the replay ran; it stays in the file as it is now: ` +
        'replay only files no process is rewriting',
    ]);
  });

  it('counts the other lines of a changed line’s event as changed with it, not as undelivered', async () => {
    const [record] = records(1);
    // A second line of the same event: sent with the first, and kept with it.
    const again = { ...record, reason: 'shutdown' as const };
    const line = JSON.stringify(record);
    const edited = line.replace(
      record.eid,
      record.eid.replace(/^./, (c) => (c === 'a' ? 'b' : 'a')),
    );
    writeFileSync(path, `${line}\n${JSON.stringify(again)}\n`);
    collector.behaviour = (_request, index) => {
      if (index === 0) writeFileSync(path, `${edited}\n${JSON.stringify(again)}\n`);
      return { status: 500 };
    };
    expect(await replay({ timeoutMs: 3_000 })).toMatchObject({ total: 2, delivered: 0, remaining: 2, unsent: 2 });
    expect(collector.requests).toHaveLength(1);
    // Both lines are accounted for as changed: no "not delivered before the timeout" line.
    expect(logger.lines).toEqual([
      expect.stringContaining('the collector answered HTTP 500 for a request of 1 line of'),
      `line 1 of ${path} (eid ${record.eid}) changed while the replay ran; it stays in the file as it is now: ` +
        'replay only files no process is rewriting',
    ]);
  });
});
