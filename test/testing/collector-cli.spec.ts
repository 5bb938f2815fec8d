import { ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { CliUsageError, parseCliArgs, runCollectorCli } from '../../lib/testing/collector.cli';
import {
  billableUsage,
  billingItem,
  customEventItem,
  FIXTURE_IGLU_DIR,
  payloadBody,
  postPayload,
} from './support/snowplow-payloads';

const ROOT = path.resolve(__dirname, '../..');

describe('parseCliArgs', () => {
  it('defaults to 127.0.0.1:9090 and the built-in schemas', () => {
    expect(parseCliArgs([])).toEqual({
      port: 9090,
      host: '127.0.0.1',
      schemaDirs: [],
      maxEvents: 100_000,
      help: false,
    });
  });

  it('reads --port, --host and repeated --schemas', () => {
    expect(parseCliArgs(['--port', '0', '--host', '::1', '--schemas', 'a', '-s', 'b'])).toEqual({
      port: 0,
      host: '::1',
      schemaDirs: ['a', 'b'],
      maxEvents: 100_000,
      help: false,
    });
  });

  it.each([
    [['--port', 'http']],
    [['--port', '70000']],
    [['--nope']],
    [['extra']],
    [['--max-events', '0']],
    [['--max-events', '1e3']],
  ])('rejects %j', (argv) => {
    expect(() => parseCliArgs(argv)).toThrow(CliUsageError);
  });
});

describe('parseCliArgs: the fault plan', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'collector-cli-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reads --fault in the compact and the JSON form, after the steps of --faults FILE', () => {
    const file = path.join(dir, 'plan.json');
    writeFileSync(file, JSON.stringify({ steps: [{ delayMs: 250 }] }));
    const options = parseCliArgs([
      '--faults',
      file,
      '--fault',
      'status=503,retry-after=5,count=2',
      '-f',
      'status=302,location=http://127.0.0.1:9/a=b',
      '--fault',
      'reset,probability=0.25,seed=7',
      '--fault',
      'hang,match=se_ac:poison:pill',
      '--fault',
      '{"status":400,"match":{"path":"/data/quantity","equals":3}}',
    ]);
    expect(options.faults).toEqual({
      steps: [
        { delayMs: 250 },
        { status: 503, retryAfter: 5, count: 2 },
        { status: 302, location: 'http://127.0.0.1:9/a=b' },
        { reset: true, probability: 0.25, seed: 7 },
        { hang: true, match: { field: 'se_ac', equals: 'poison:pill' } },
        { status: 400, match: { path: '/data/quantity', equals: 3 } },
      ],
    });
  });

  it.each([
    [['--fault', 'status=abc'], 'Invalid fault plan "steps[0].status": must be an integer 200-599'],
    [['--fault', 'staus=500'], 'Invalid fault plan "--fault #1 staus": is not a fault key'],
    [['--fault', 'status=500,match=poison'], 'Invalid fault plan "--fault #1 match": must be FIELD:VALUE'],
    [['--fault', '{"status":'], 'Invalid fault plan "--fault #1": is not JSON'],
    [['--fault', 'hang=yes'], 'Invalid fault plan "steps[0].hang": must be true when given'],
    [['--fault', 'probability=2,status=500'], 'Invalid fault plan "steps[0].probability": must be a number above 0'],
    [['--faults', '/no/such/plan.json'], 'Invalid fault plan "--faults": cannot read /no/such/plan.json: ENOENT'],
  ])('refuses %j naming the field', (argv, message) => {
    expect(() => parseCliArgs(argv)).toThrow(CliUsageError);
    expect(() => parseCliArgs(argv)).toThrow(message);
  });
});

describe('runCollectorCli', () => {
  it('prints a banner, then one line per good or bad event', async () => {
    const lines: string[] = [];
    const output = { out: (line: string) => lines.push(line), err: (line: string) => lines.push(`ERR ${line}`) };
    const collector = await runCollectorCli(['--port', '0', '--schemas', FIXTURE_IGLU_DIR], output);
    if (!collector) throw new Error('expected a running collector');
    try {
      expect(lines[0]).toBe(`Snowplow local collector on ${collector.url}`);
      expect(lines).toContain(`  event viewer ${collector.url}/micro/ui`);
      const ue = customEventItem('signup', { plan: 'pro' });
      const se = billingItem();
      const bad = billingItem(billableUsage({ realm: 'Moon' }));
      await postPayload(collector.endpoint, payloadBody(ue, se, bad));
      await collector.waitFor(3);
      const events = lines.slice(4);
      expect(events[0]).toMatch(
        new RegExp(`^\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z GOOD ue signup eid=${ue.eid} props=\\{"plan":"pro"\\}$`),
      );
      expect(events[1]).toMatch(
        /GOOD se usage_recorded eid=\S+ category="billing" label="ci_minutes" value="12.5" contexts=billable_usage@1-0-2\{"event_id":/,
      );
      expect(events[2]).toMatch(
        new RegExp(
          `Z BAD eid=${bad.eid} cx: cx context 0 iglu:com.gitlab/billable_usage/jsonschema/1-0-2: /realm must be`,
        ),
      );
    } finally {
      await collector.close();
    }
  });

  it('runs with the fault plan of its flags: a poison event is refused, the others accepted', async () => {
    const lines: string[] = [];
    const output = { out: (line: string) => lines.push(line), err: (line: string) => lines.push(`ERR ${line}`) };
    const argv = ['--port', '0', '--fault', 'status=400,match=se_ac:poison', '--fault', 'status=503,count=1'];
    const collector = await runCollectorCli(argv, output);
    if (!collector) throw new Error('expected a running collector');
    try {
      expect(lines).toContain(`  fault plan: 2 step(s); GET|POST|DELETE ${collector.url}/micro/faults`);
      const poison = { ...billingItem(), se_ac: 'poison' };
      expect((await postPayload(collector.endpoint, payloadBody(poison))).status).toBe(400);
      const fine = customEventItem('fine', null);
      expect((await postPayload(collector.endpoint, payloadBody(fine))).status).toBe(503);
      expect((await postPayload(collector.endpoint, payloadBody(fine))).status).toBe(200);
      expect(collector.good().map((e) => e.eid)).toEqual([fine.eid]);
      expect(collector.requests.map((r) => r.fault?.step)).toEqual([0, 1, undefined]);
      const faults = lines.filter((line) => line.includes(' FAULT '));
      expect(faults).toEqual([
        expect.stringMatching(
          /^\d\d:\d\d:\d\d\.\d{3}Z FAULT plan step 0: status 400 POST \/com\.snowplowanalytics\.snowplow\/tp2 \(1 event\)$/,
        ),
        expect.stringMatching(
          /Z FAULT plan step 1: status 503 POST \/com\.snowplowanalytics\.snowplow\/tp2 \(1 event\)$/,
        ),
      ]);
    } finally {
      await collector.close();
    }
  });

  it('prints usage for --help and starts nothing', async () => {
    const lines: string[] = [];
    expect(
      await runCollectorCli(['--help'], { out: (line) => lines.push(line), err: () => undefined }),
    ).toBeUndefined();
    expect(lines[0]).toMatch(/^Usage: nestjs-snowplow-collector/);
  });
});

describe('collector.cli.ts as a process', () => {
  const children: ChildProcessWithoutNullStreams[] = [];

  afterEach(() => {
    for (const child of children.splice(0))
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });

  function startCli(args: string[]): ChildProcessWithoutNullStreams {
    const child = spawn(process.execPath, ['-r', '@swc-node/register', 'lib/testing/collector.cli.ts', ...args], {
      cwd: ROOT,
    });
    children.push(child);
    return child;
  }

  /** Resolves with stdout once it matches `pattern`; rejects on exit or after the deadline. */
  function waitForOutput(child: ChildProcessWithoutNullStreams, pattern: RegExp, timeoutMs = 15000): Promise<string> {
    return new Promise((resolve, reject) => {
      let text = '';
      const timer = setTimeout(() => reject(new Error(`no ${pattern} within ${timeoutMs} ms in: ${text}`)), timeoutMs);
      const onData = (chunk: Buffer) => {
        text += chunk.toString();
        if (!pattern.test(text)) return;
        clearTimeout(timer);
        child.stdout.off('data', onData);
        resolve(text);
      };
      child.stdout.on('data', onData);
      child.once('exit', (code) => reject(new Error(`exited with ${code} before ${pattern}: ${text}`)));
    });
  }

  function exitOf(child: ChildProcessWithoutNullStreams): Promise<number | null> {
    return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
  }

  it.each(['SIGINT', 'SIGTERM'] as const)('prints events and exits 0 on %s', async (signal) => {
    const child = startCli(['--port', '0']);
    const banner = await waitForOutput(child, /tracker endpoint (\S+)\n/);
    const endpoint = /tracker endpoint (\S+)\n/.exec(banner)?.[1] as string;
    const printed = waitForOutput(child, /GOOD ue from_cli /);
    await postPayload(endpoint, payloadBody(customEventItem('from_cli', null)));
    await printed;
    const exited = exitOf(child);
    child.kill(signal);
    expect(await exited).toBe(0);
  });

  it('exits 2 on a bad flag and 1 on a broken schema dir', async () => {
    const usage = startCli(['--port', 'x']);
    const stderr: Buffer[] = [];
    usage.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
    expect(await exitOf(usage)).toBe(2);
    expect(Buffer.concat(stderr).toString()).toContain('--port must be 0-65535, got "x"');
    expect(await exitOf(startCli(['--port', '0', '--schemas', '/no/such/dir']))).toBe(1);
  });
});
