// A script's end is a shutdown: a process that tracks and just ends (no drain(), no stop()) sends
// what it tracked before it exits, within exitDrainTimeoutMs; what it cannot send is accounted
// for as stop() does. Real child processes, a real loopback collector.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { DeadLetterRecord, EmitterStats } from '../../lib/core';
import { LocalCollector, startLocalCollector } from '../../lib/testing/local-collector';

const ROOT = resolve(__dirname, '../..');
const CHILD = join(__dirname, '../fixtures/apps/script-end.ts');

interface ScriptRun {
  code: number | null;
  /** ms from the end of tracking to the process's exit. */
  endedAfterMs: number;
  eids: string[];
  stats: EmitterStats;
  stderr: string;
}

let collector: LocalCollector;
let dir: string;
beforeEach(async () => {
  collector = await startLocalCollector();
  dir = mkdtempSync(join(tmpdir(), 'script-end-'));
});
afterEach(async () => {
  await collector.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Runs the script to its end; fails if it is still running after `limitMs`. */
async function runScript(env: Record<string, string>, limitMs = 60_000): Promise<ScriptRun> {
  const child = spawn(process.execPath, ['-r', '@swc-node/register', CHILD], {
    cwd: ROOT,
    env: { ...process.env, COLLECTOR_URL: collector.endpoint, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => (stdout += chunk));
  child.stderr.on('data', (chunk) => (stderr += chunk));
  const timer = setTimeout(() => child.kill('SIGKILL'), limitMs);
  const code = await new Promise<number | null>((done) => child.on('exit', (c) => done(c)));
  const exitedAt = Date.now();
  clearTimeout(timer);
  const tracked = /^tracked (\d+) (.*)$/m.exec(stdout);
  const stats = /^stats (.*)$/m.exec(stdout);
  if (!tracked || !stats) throw new Error(`the script did not report (exit ${code}): ${stdout}\n${stderr}`);
  return {
    code,
    endedAfterMs: exitedAt - Number(tracked[1]),
    eids: tracked[2].split(' '),
    stats: JSON.parse(stats[1]) as EmitterStats,
    stderr,
  };
}

function readDeadLetters(path: string): DeadLetterRecord[] {
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as DeadLetterRecord);
}

describe("a script's end is a shutdown", () => {
  it('a script that tracks five billing events and just ends: all five delivered, once each, before it exits', async () => {
    const deadLetter = join(dir, 'dead.jsonl');
    const run = await runScript({ DEAD_LETTER: deadLetter });
    expect(run.code).toBe(0);
    const delivered = collector.events().map((e) => e.eid);
    expect([...delivered].sort()).toEqual([...run.eids].sort());
    expect(run.stats).toMatchObject({ sent: 5, queued: 0, stopped: true });
    expect(readDeadLetters(deadLetter)).toEqual([]);
    expect(run.stderr).toMatch(/^log the process is ending with 5 events not yet sent/m);
  }, 60_000);

  it.each([
    ['hangs', () => (collector.behaviour = () => ({ hang: true }))],
    ['is down', () => collector.close()],
  ])(
    'the collector %s: the script exits within exitDrainTimeoutMs (plus a margin), the events dead-lettered with the reason, logged and counted',
    async (_name, breakCollector) => {
      await breakCollector();
      const deadLetter = join(dir, 'dead.jsonl');
      const run = await runScript({ DEAD_LETTER: deadLetter, EXIT_DRAIN_MS: '1500' });
      expect(run.code).toBe(0);
      expect(run.endedAfterMs).toBeGreaterThanOrEqual(1_400);
      // The deadline, plus stop() and the exit; far below the 30 s request timeout of a held request.
      expect(run.endedAfterMs).toBeLessThan(1_500 + 6_000);
      const records = readDeadLetters(deadLetter);
      expect(records.map((r) => r.eid).sort()).toEqual([...run.eids].sort());
      for (const record of records) {
        expect(record).toMatchObject({
          kind: 'billing',
          reason: 'shutdown',
          error: 'not delivered within exitDrainTimeoutMs (1500 ms) before the process ended',
        });
      }
      expect(run.stats.billing.dropped.shutdown).toBe(5);
      expect(run.stats.sent).toBe(0);
      expect(run.stderr).toMatch(/^warn 5 events were not delivered within exitDrainTimeoutMs \(1500 ms\)/m);
      expect(run.stderr).toMatch(
        new RegExp(
          `^error 5 events not delivered at shutdown \\(5 billing\\) were dropped; dead-lettered to ${deadLetter}`,
          'm',
        ),
      );
    },
    60_000,
  );

  it('with a SQLite outbox and a hanging collector: the events stay in the outbox for the next start, and the log says so', async () => {
    collector.behaviour = () => ({ hang: true });
    const db = join(dir, 'outbox.db');
    const run = await runScript({ DB: db, EXIT_DRAIN_MS: '1000' });
    expect(run.code).toBe(0);
    expect(run.endedAfterMs).toBeLessThan(1_000 + 6_000);
    const conn = new Database(db, { readonly: true });
    const rows = conn.prepare('SELECT eid FROM snowplow_events').all() as Array<{ eid: string }>;
    conn.close();
    expect(rows.map((r) => r.eid).sort()).toEqual([...run.eids].sort());
    expect(run.stats.dropped.shutdown).toBe(0);
    expect(run.stderr).toMatch(
      /^warn 5 events \(5 billing\) are kept in the outbox \S+outbox.db for the next start; they are lost if this disk does not outlive the process/m,
    );
  }, 60_000);

  it('exitDrainTimeoutMs 0: nothing is sent, the events are accounted for at once', async () => {
    collector.behaviour = () => ({ hang: true });
    const deadLetter = join(dir, 'dead.jsonl');
    const run = await runScript({ DEAD_LETTER: deadLetter, EXIT_DRAIN_MS: '0' });
    expect(run.code).toBe(0);
    expect(run.endedAfterMs).toBeLessThan(6_000);
    expect(readDeadLetters(deadLetter)).toHaveLength(5);
    expect(run.stats.billing.dropped.shutdown).toBe(5);
  }, 60_000);

  it('a script that stopped its emitter itself: stop() accounts for the events, and no exit drain follows', async () => {
    const deadLetter = join(dir, 'dead.jsonl');
    const run = await runScript({ DEAD_LETTER: deadLetter, STOP: '1' });
    expect(run.code).toBe(0);
    expect(run.stderr).not.toMatch(/the process is ending/);
    expect(run.stats.billing.dropped.shutdown).toBe(5);
    expect(readDeadLetters(deadLetter)).toHaveLength(5);
  }, 60_000);
});
