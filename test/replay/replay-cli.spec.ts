import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseReplayArgs, ReplayCliUsageError, runReplayCli } from '../../lib/replay/replay.cli';
import { LocalCollector, startLocalCollector } from '../../lib/testing/local-collector';
import { MAX_TIMER_MS } from '../../lib/utils/timers';
import { jsonl, records, useTempDir } from '../dead-letter/support/records';

const ROOT = resolve(__dirname, '../..');

function errorOf(call: () => unknown): unknown {
  try {
    call();
  } catch (err) {
    return err;
  }
  throw new Error('expected a throw');
}
const PASSWORD = 's3cret-pw';

describe('parseReplayArgs', () => {
  it('reads the collector, the file, --timeout-ms and --token-file', () => {
    expect(parseReplayArgs(['--collector', 'http://c/tp2', 'dl.jsonl'])).toEqual({
      collectorUrl: 'http://c/tp2',
      file: 'dl.jsonl',
      timeoutMs: 60_000,
      tokenFile: undefined,
      concurrency: 8,
      batchSize: 100,
      help: false,
    });
    const argv = ['dl.jsonl', '-c', 'https://c/tp2', '--timeout-ms', '500', '--token-file', 't'];
    expect(parseReplayArgs([...argv, '--concurrency', '2', '--batch-size', '1'])).toEqual({
      collectorUrl: 'https://c/tp2',
      file: 'dl.jsonl',
      timeoutMs: 500,
      tokenFile: 't',
      concurrency: 2,
      batchSize: 1,
      help: false,
    });
    expect(parseReplayArgs(['--help']).help).toBe(true);
  });

  it('accepts each flag at its bounds, and --help alone with the defaults', () => {
    const head = ['--collector', 'http://c/tp2', 'dl.jsonl'];
    expect(
      parseReplayArgs([...head, '--timeout-ms', String(MAX_TIMER_MS), '--concurrency', '64', '--batch-size', '1000']),
    ).toMatchObject({ timeoutMs: MAX_TIMER_MS, concurrency: 64, batchSize: 1000 });
    expect(parseReplayArgs([...head, '--timeout-ms', '1', '--concurrency', '1', '--batch-size', '1'])).toMatchObject({
      timeoutMs: 1,
      concurrency: 1,
      batchSize: 1,
    });
    expect(parseReplayArgs(['--help'])).toEqual({
      collectorUrl: '',
      file: '',
      timeoutMs: 60_000,
      concurrency: 8,
      batchSize: 100,
      help: true,
    });
  });

  it.each([
    [[], /--collector is required/],
    [['dl.jsonl'], /--collector is required/],
    [['--collector', 'http://c/tp2'], /expected one dead-letter FILE, got 0/],
    [['--collector', 'http://c/tp2', 'a', 'b'], /expected one dead-letter FILE, got 2/],
    [['--collector', 'ftp://c/tp2', 'a'], /"--collector": must use http or https/],
    [['--collector', `http://u:${PASSWORD}@`, 'a'], /"--collector": is not an absolute URL/],
    [['--collector', 'http://c/tp2', 'a', '--timeout-ms', '1.5'], /--timeout-ms must be an integer/],
    [['--collector', 'http://c/tp2', 'a', '--timeout-ms', '0'], /--timeout-ms must be an integer/],
    [['--collector', 'http://c/tp2', 'a', '--nope'], /Unknown option '--nope'/],
    [['--collector', 'http://c/tp2', 'a', '--concurrency', '65'], /--concurrency must be an integer from 1 to 64/],
    [['--collector', 'http://c/tp2', 'a', '--batch-size', '0'], /--batch-size must be an integer from 1 to 1000/],
  ])('refuses %j', (argv, message) => {
    expect(() => parseReplayArgs(argv)).toThrow(ReplayCliUsageError);
    expect(() => parseReplayArgs(argv)).toThrow(message);
    expect(() => parseReplayArgs(argv)).not.toThrow(PASSWORD);
    expect(errorOf(() => parseReplayArgs(argv))).toMatchObject({ code: 'REPLAY_USAGE' });
  });
});

describe('the replay CLI', () => {
  const dir = useTempDir();
  let collector: LocalCollector;
  let file: string;
  let url: string;
  beforeEach(async () => {
    collector = await startLocalCollector();
    file = join(dir.path, 'dead-letters.jsonl');
    url = collector.endpoint.replace('http://', `http://replay:${PASSWORD}@`);
  });
  afterEach(() => collector.close());

  function runCli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
    const child = spawn(process.execPath, ['-r', '@swc-node/register', 'lib/replay/replay.cli.ts', ...args], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    return new Promise((done) => child.on('close', (code) => done({ code, stdout, stderr })));
  }

  it('exits 0 and says so when every line is delivered, never printing the password', async () => {
    writeFileSync(file, jsonl(records(3, { billing: 1 })));
    const { code, stdout, stderr } = await runCli(['--collector', url, file]);
    const shown = url.replace(`replay:${PASSWORD}`, '***:***');
    expect({ code, stdout, stderr }).toEqual({
      code: 0,
      stdout: `${file}: 3 of 3 lines delivered to ${shown} and removed; 0 kept in the file\n`,
      stderr: '',
    });
    expect(readFileSync(file, 'utf8')).toBe('');
    const basic = `Basic ${Buffer.from(`replay:${PASSWORD}`).toString('base64')}`;
    expect(collector.requests.length).toBeGreaterThanOrEqual(1);
    expect(collector.requests.every((request) => request.headers.authorization === basic)).toBe(true);
  });

  it('exits 1 when a line remains, never printing the password', async () => {
    const written = records(2);
    writeFileSync(file, jsonl(written));
    collector.behaviour = (request) => ({ status: request.body.includes(written[0].eid) ? 500 : 200 });
    // Time enough for the halved batch's two requests even on a loaded machine; the 500 line then waits it out.
    const { code, stdout, stderr } = await runCli(['--collector', url, '--timeout-ms', '3000', file]);
    expect(code).toBe(1);
    expect(stdout).toContain(`${file}: 1 of 2 lines delivered to http://***:***@`);
    expect(stdout).toContain(' and removed; 1 kept in the file (1 not delivered in time)\n');
    expect(stderr).toContain(`1 line not delivered before the timeout stays in ${file}; run again later to retry them`);
    expect(stderr).toContain('HTTP 500');
    expect(stdout + stderr).not.toContain(PASSWORD);
    expect(readFileSync(file, 'utf8')).toBe(jsonl([written[0]]));
  });

  it('exits 2 with the usage on a bad command line, and 1 on a missing file', async () => {
    const usage = await runCli(['--collector', url]);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain('expected one dead-letter FILE, got 0');
    expect(usage.stderr).toContain('Usage: nestjs-snowplow-replay --collector URL FILE');
    expect(usage.stdout + usage.stderr).not.toContain(PASSWORD);

    const missing = await runCli(['--collector', url, join(dir.path, 'missing.jsonl')]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/missing\.jsonl: cannot read the dead-letter file: ENOENT/);
    expect(collector.requests).toHaveLength(0);
  });

  it('sends the token of --token-file as a bearer token', async () => {
    writeFileSync(file, jsonl(records(1)));
    const tokenFile = join(dir.path, 'token');
    writeFileSync(tokenFile, 'file-token\n');
    const lines: string[] = [];
    const output = { out: (line: string) => lines.push(line), err: (line: string) => lines.push(`ERR ${line}`) };
    expect(await runReplayCli(['--collector', collector.endpoint, '--token-file', tokenFile, file], output)).toBe(0);
    expect(collector.requests.map((request) => request.headers.authorization)).toEqual(['Bearer file-token']);
    const summary = `${file}: 1 of 1 lines delivered to ${collector.endpoint} and removed; 0 kept in the file`;
    expect(lines).toEqual([summary]);
  });

  it('gives each kind of line kept the advice that fits it, and never says "dropped"', async () => {
    const [good, refused, late, twice] = records(4, { billing: 4 });
    const edited = { ...twice, payload: { ...twice.payload, se_va: '7' } };
    writeFileSync(file, `${jsonl([good, refused, late, twice])}not a record\n${jsonl([edited])}`);
    collector.behaviour = (request) => {
      if (request.body.includes(refused.eid)) return { status: 400 };
      return { status: request.body.includes(late.eid) ? 503 : 200 };
    };
    const lines: string[] = [];
    const output = { out: (line: string) => lines.push(line), err: (line: string) => lines.push(`ERR ${line}`) };
    expect(await runReplayCli(['--collector', collector.endpoint, '--timeout-ms', '1500', file], output)).toBe(1);
    const said = lines.filter((line) => !line.startsWith('ERR line') && !line.startsWith('ERR the collector'));
    expect(said).toEqual([
      'ERR 1 line was not delivered before the timeout (last failures: the collector answered HTTP 503 ×' +
        `${lines.join('').match(/HTTP 503 ×(\d+)/)?.[1]}); they stay in ${file}: run the replay again later, once ` +
        'the collector accepts them (or with a longer timeout)',
      `${file}: 1 of 6 lines delivered to ${collector.endpoint} and removed; 5 kept in the file (1 not delivered ` +
        'in time, 1 refused by the collector, 1 not dead-letter records, 2 sharing an eid with a different event)',
      `ERR 1 line not delivered before the timeout stays in ${file}; run again later to retry them`,
      `ERR 1 line refused by the collector stays in ${file}; running again will not help: inspect it (see the ` +
        'errors above), then fix or remove it',
      `ERR 1 line that is not a dead-letter record stays in ${file} as it is; inspect, then fix or remove it`,
      `ERR 2 lines sharing an eid with a different event stay in ${file}, none sent; keep the right line of each ` +
        'eid, remove the others, and run again',
    ]);
    // The replay's warnings go to stderr too.
    expect(lines).toContainEqual(expect.stringMatching(/^ERR the collector answered HTTP 503 for a request of /));
    expect(lines.join('\n')).not.toMatch(/drop/i);
    expect(readFileSync(file, 'utf8')).toBe(`${jsonl([refused, late, twice])}not a record\n${jsonl([edited])}`);
  });

  it('prints the usage for --help, and refuses an empty --token-file as a usage error, in this process', async () => {
    const lines: string[] = [];
    const output = { out: (line: string) => lines.push(line), err: (line: string) => lines.push(`ERR ${line}`) };
    expect(await runReplayCli(['--help'], output)).toBe(0);
    expect(lines).toEqual([expect.stringMatching(/^Usage: nestjs-snowplow-replay --collector URL FILE/)]);
    writeFileSync(file, jsonl(records(1)));
    await expect(runReplayCli(['--collector', collector.endpoint, '--token-file', '', file], output)).rejects.toThrow(
      expect.objectContaining({ code: 'REPLAY_USAGE', message: expect.stringMatching(/^--token-file .*non-empty/) }),
    );
    expect(collector.requests).toHaveLength(0);
  });

  it('refuses a token file together with credentials in the URL as a usage error', async () => {
    writeFileSync(file, jsonl(records(1)));
    const output = { out: () => undefined, err: () => undefined };
    await expect(runReplayCli(['--collector', url, '--token-file', join(dir.path, 't'), file], output)).rejects.toThrow(
      ReplayCliUsageError,
    );
    expect(collector.requests).toHaveLength(0);
  });
});
