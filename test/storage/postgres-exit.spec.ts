// A process that exits (process.exit()) right after tracking, before the PostgreSQL store's
// write-behind buffer is committed: the events cannot be written any more, and they do not vanish.
// The store's exit hook hands them to the emitter, which dead-letters them as `shutdown` (the
// record of each bill, with its payload) and counts them.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { migratePostgresOutbox } from '../../lib/core';
import { LocalCollector, startLocalCollector } from '../../lib/testing/local-collector';
import { rows, usePostgres } from '../support/postgres';

const pg = usePostgres('exit');
let collector: LocalCollector;
let dir: string;

beforeEach(async () => {
  collector = await startLocalCollector();
  dir = mkdtempSync(join(tmpdir(), 'pg-exit-'));
});
afterEach(async () => {
  await collector.close();
  rmSync(dir, { recursive: true, force: true });
});

it('process.exit() before the commit: every bill is dead-lettered with its payload and counted, none vanishes', async () => {
  const names = { schema: pg.schema, table: 'outbox' };
  await migratePostgresOutbox(pg.pool, names);
  const deadLetter = join(dir, 'dead.jsonl');
  const child = spawn(
    process.execPath,
    ['-r', '@swc-node/register', join(__dirname, '../fixtures/apps/postgres-script-end.ts')],
    {
      cwd: resolve(__dirname, '../..'),
      env: {
        ...process.env,
        COLLECTOR_URL: collector.endpoint,
        PG_URL: pg.url,
        PG_SCHEMA: names.schema,
        PG_TABLE: names.table,
        BILLING: '4',
        EXIT_AT_ONCE: '1',
        DEAD_LETTER: deadLetter,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c) => (stdout += c));
  child.stderr.on('data', (c) => (stderr += c));
  const timer = setTimeout(() => child.kill('SIGKILL'), 45_000);
  const code = await new Promise<number | null>((done) => child.on('exit', (c) => done(c)));
  clearTimeout(timer);
  expect({ code, stderr }).toMatchObject({ code: 0 });
  const eids = (/^tracked (.*)$/m.exec(stdout)?.[1] ?? '').split(' ');
  expect(eids).toHaveLength(4);
  // Nothing was committed: the table is empty and nothing was sent.
  expect(await rows(pg.pool, `SELECT 1 FROM "${names.schema}"."${names.table}"`)).toEqual([]);
  expect(collector.events()).toEqual([]);
  const records = readFileSync(deadLetter, 'utf8')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as { eid: string; reason: string; error: string; payload: Record<string, string> });
  expect(records.map((r) => r.eid).sort()).toEqual([...eids].sort());
  for (const record of records) {
    expect(record.reason).toBe('shutdown');
    expect(record.error).toMatch(/the process exited before these events were committed/);
    expect(record.payload.e).toBe('se');
  }
  expect(stderr).toMatch(/^error 4 events \(4 billing\) could not be written to the event store at shutdown/m);
  const stats = JSON.parse(/^stats (.*)$/m.exec(stdout)?.[1] ?? '{}') as { billing: { dropped: { shutdown: number } } };
  expect(stats.billing.dropped.shutdown).toBe(4);
});
