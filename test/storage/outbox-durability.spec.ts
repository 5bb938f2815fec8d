import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Emitter, SqliteStorage } from '../../lib/core';
import { decodeAccepted } from '../support/decode';
import { quietLogger } from '../support/emitter-harness';
import { LocalCollector, startLocalCollector } from '../../lib/testing/local-collector';
import { waitFor } from '../support/wait-for';

const ROOT = join(__dirname, '../..');
const CHILD = join(__dirname, '../fixtures/apps/outbox-crash.ts');

let dir: string;
let db: string;
let out: string;
let collector: LocalCollector;
beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'snowplow-durable-'));
  db = join(dir, 'outbox.db');
  out = join(dir, 'eids.txt');
  collector = await startLocalCollector();
});
afterEach(async () => {
  await collector.close();
  rmSync(dir, { recursive: true, force: true });
});

function startChild(env: Record<string, string>) {
  const child = spawn(process.execPath, ['-r', '@swc-node/register', CHILD], {
    cwd: ROOT,
    env: { ...process.env, COLLECTOR_URL: collector.endpoint, DB: db, OUT: out, ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk) => (stderr += chunk));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  return { child, exited, stderr: () => stderr };
}

/** The eids the child had from tracking, by kind. */
function recorded(): { custom: string[]; billing: string[] } {
  const lines = existsSync(out) ? readFileSync(out, 'utf8').split('\n').filter(Boolean) : [];
  const of = (kind: string) => lines.filter((l) => l.startsWith(`${kind} `)).map((l) => l.slice(kind.length + 1));
  return { custom: of('custom'), billing: of('billing') };
}

/** A fresh process on the same file sends everything in it; resolves the accepted eids. */
async function resumeAndDeliver(): Promise<string[]> {
  collector.behaviour = () => ({ status: 200 });
  const emitter = new Emitter({
    collectorUrl: collector.endpoint,
    storage: { type: 'sqlite', path: db },
    logger: quietLogger,
  });
  emitter.start();
  await waitFor(async () => (await emitter.drain(200)).drained, { timeoutMs: 60_000, what: 'the outbox to empty' });
  await emitter.stop();
  const left = new SqliteStorage({ path: db });
  expect(left.size).toBe(0);
  left.close();
  return decodeAccepted(collector).map((e) => e.eid as string);
}

describe('the SQLite outbox keeps every event whose eid tracking returned', () => {
  it.each([
    ['throw', 'an uncaught exception'],
    ['exit', 'process.exit(1)'],
    ['reject', 'an unhandled rejection'],
  ])(
    'track 500 custom and 50 billing events, then %s (%s) in the same tick: all 550 delivered after a restart',
    async (crash) => {
      const child = startChild({ CRASH: crash, CUSTOM: '500', BILLING: '50' });
      const { code } = await child.exited;
      expect(code).toBe(1);
      const { custom, billing } = recorded();
      expect([custom.length, billing.length]).toEqual([500, 50]);
      const delivered = await resumeAndDeliver();
      expect(delivered).toHaveLength(550);
      expect(new Set(delivered)).toEqual(new Set([...custom, ...billing]));
    },
  );

  it('a billing event is committed before tracking returns: SIGKILL in the same tick keeps all 50', async () => {
    const child = startChild({ CRASH: 'kill', CUSTOM: '0', BILLING: '50' });
    expect((await child.exited).signal).toBe('SIGKILL');
    const { billing } = recorded();
    expect(billing).toHaveLength(50);
    const delivered = await resumeAndDeliver();
    expect(delivered.sort()).toEqual([...billing].sort());
  });

  it('repeated kill -9 at random points while the collector flaps: every event counted as persisted is delivered', async () => {
    // 200 most of the time; otherwise 500, a request that hangs past the child's timeout, or a reset.
    collector.behaviour = () => {
      const roll = Math.random();
      if (roll < 0.6) return { status: 200 };
      if (roll < 0.8) return { status: 500 };
      if (roll < 0.9) return { hang: true };
      return { reset: true };
    };
    for (let run = 0; run < 8; run++) {
      const child = startChild({ CRASH: 'loop' });
      // Kill it at a random point: after it recorded a random number of further events (1 to 40
      // ticks of tracking), wherever its send loop happens to be then.
      const target = recorded().custom.length + 20 * (1 + Math.floor(Math.random() * 40));
      await waitFor(() => recorded().custom.length >= target, {
        timeoutMs: 30_000,
        intervalMs: 2,
        what: `run ${run} to track`,
      });
      child.child.kill('SIGKILL');
      await child.exited;
    }
    const { custom, billing } = recorded();
    expect(custom.length).toBeGreaterThan(0);
    expect(billing.length).toBeGreaterThan(0);
    const delivered = new Set(await resumeAndDeliver());
    const missing = [...custom, ...billing].filter((eid) => !delivered.has(eid));
    expect(missing).toEqual([]);
    // Nine child processes and a drain: ~15 s on a quiet machine, over 60 s when the cores are shared.
  }, 180_000);
});

describe('the outbox file is private', () => {
  it('is created with mode 0600, and so are its -wal and -shm files', () => {
    const umask = process.umask(0o022);
    try {
      const storage = new SqliteStorage({ path: db, shared: true });
      storage.add({ kind: 'billing', eid: 'b1', dtm: 1, json: '{}', bytes: 2, attempts: 0 });
      for (const file of [db, `${db}-wal`, `${db}-shm`]) {
        expect(existsSync(file)).toBe(true);
        expect((statSync(file).mode & 0o777).toString(8)).toBe('600');
      }
      storage.close();
    } finally {
      process.umask(umask);
    }
  });
});
