import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { replayDeadLetters } from '../../lib/core';
import { LocalCollector, startLocalCollector } from '../../lib/testing/local-collector';
import { waitFor } from '../support/wait-for';
import { jsonl, recordingLogger, records, useTempDir } from '../dead-letter/support/records';

const ROOT = resolve(__dirname, '../..');
/** Six times the billing capacity of an emitter (10,000): the size of the file in the issue. */
const LINES = 60_000;

jest.setTimeout(180_000);

describe('replayDeadLetters on a 60,000-line file of billing events', () => {
  const dir = useTempDir();
  let template: string;
  let templateDir: string;
  let eids: string[];
  let collector: LocalCollector;
  let path: string;
  const logger = recordingLogger();

  beforeAll(() => {
    templateDir = mkdtempSync(join(tmpdir(), 'replay-scale-'));
    template = join(templateDir, 'template.jsonl');
    const written = records(LINES, { billing: LINES });
    eids = written.map((record) => record.eid);
    writeFileSync(template, jsonl(written));
  });
  afterAll(() => rmSync(templateDir, { recursive: true, force: true }));
  beforeEach(async () => {
    collector = await startLocalCollector();
    path = join(dir.path, 'dead-letters.jsonl');
    copyFileSync(template, path);
    logger.lines.length = 0;
  });
  afterEach(() => collector.close());

  /** The eids of every request in `requests` (answered or not). */
  const eidsOf = (requests: LocalCollector['requests']) =>
    requests.flatMap((request) => (JSON.parse(request.body) as { data: { eid: string }[] }).data.map((e) => e.eid));

  it('delivers every line in one run, with no billing capacity, and empties the file', async () => {
    const started = Date.now();
    const result = await replayDeadLetters(path, { collectorUrl: collector.endpoint, timeoutMs: 120_000, logger });
    const seconds = (Date.now() - started) / 1000;

    expect(result).toMatchObject({ total: LINES, delivered: LINES, remaining: 0, unsent: 0, refused: 0 });
    expect(collector.counts().accepted).toEqual({ total: LINES, distinct: LINES });
    expect(new Set(collector.events().map((event) => event.eid))).toEqual(new Set(eids));
    expect(collector.events().every((event) => event.e === 'se')).toBe(true);
    expect(readFileSync(path, 'utf8')).toBe('');
    expect(readdirSync(dir.path)).toEqual(['dead-letters.jsonl']);
    expect(logger.lines).toEqual([]);
    // Loose: a loaded 2-core machine; one request per event took about a minute here.
    expect(seconds).toBeLessThan(60);
  });

  it('resumes after kill -9: the next run re-sends at most the batches that were in flight', async () => {
    const acceptedRequests = 100;
    collector.behaviour = (_request, index) => (index < acceptedRequests ? { status: 200 } : { hang: true });
    const child = spawn(
      process.execPath,
      ['-r', '@swc-node/register', 'lib/replay/replay.cli.ts', '--collector', collector.endpoint, path],
      { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let stderr = '';
    child.stderr.on('data', (chunk) => (stderr += chunk));
    const exited = new Promise<NodeJS.Signals | null>((done) => child.on('exit', (_code, signal) => done(signal)));
    try {
      const journal = `${path}.replay-journal`;
      const entries = () => (existsSync(journal) ? readFileSync(journal, 'latin1').split('\n').length - 2 : -1);
      // Every accepted batch is in the journal and the child is stuck on 8 hung requests: kill it there.
      await waitFor(
        () =>
          collector.requests.length >= acceptedRequests + 8 &&
          collector.inFlight === 8 &&
          entries() === eidsOf(collector.accepted()).length,
        { timeoutMs: 90_000, intervalMs: 50, what: `the journal of every accepted batch and 8 hung requests` },
      );
    } finally {
      child.kill('SIGKILL');
    }
    expect(await exited).toBe('SIGKILL');
    const firstRun = collector.requests.length;
    const acceptedFirst = new Set(eidsOf(collector.accepted()));
    const inFlight = new Set(eidsOf(collector.requests.slice(acceptedRequests)));
    // Batches hold up to 100 events (fewer when the reader had fewer ready).
    expect(acceptedFirst.size).toBeGreaterThan(acceptedRequests * 50);
    expect(inFlight.size).toBeGreaterThan(0);
    expect(inFlight.size).toBeLessThanOrEqual(8 * 100);
    expect(readFileSync(path, 'utf8')).toBe(readFileSync(template, 'utf8'));

    collector.behaviour = () => ({ status: 200 });
    const result = await replayDeadLetters(path, { collectorUrl: collector.endpoint, timeoutMs: 120_000, logger });
    expect(result).toMatchObject({ total: LINES, delivered: LINES, remaining: 0, resumed: acceptedFirst.size });

    const secondRun = eidsOf(collector.requests.slice(firstRun));
    const resent = secondRun.filter((eid) => acceptedFirst.has(eid) || inFlight.has(eid));
    // Nothing the collector accepted is sent again; of what was in flight, each event once at most.
    expect(resent.filter((eid) => acceptedFirst.has(eid))).toEqual([]);
    expect(resent.length).toBeLessThanOrEqual(inFlight.size);
    expect(new Set([...acceptedFirst, ...secondRun])).toEqual(new Set(eids));
    const { stored } = collector.counts();
    expect(stored.distinct).toBe(LINES);
    expect(stored.total - stored.distinct).toBeLessThanOrEqual(inFlight.size);
    expect(readFileSync(path, 'utf8')).toBe('');
    expect(readdirSync(dir.path)).toEqual(['dead-letters.jsonl']);
  });
});
