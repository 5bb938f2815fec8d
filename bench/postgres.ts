/**
 * `npm run bench:postgres`: the PostgreSQL outbox (issue 25), with the SQLite store beside it, on
 * the bench collector (another process). Prints markdown on stdout (progress on stderr). Figures
 * are reported against the targets, never asserted; the exit code is non-zero when a row crashed
 * or when any event was missing (not committed, or never at the collector).
 *
 *   BENCH_PG_URL=...       the server (default postgres://postgres@127.0.0.1:5432/test); the script
 *                          works in a schema of its own (bench_pg_<pid>) and drops it at the end
 *   BENCH_QUICK=1          smoke run (1 run, small sizes)
 *   BENCH_RUNS=n           repetitions (default 5; fewer than 3 is flagged as not a result)
 *   BENCH_ROWS=p1,p2,...   only these rows (p1 committed/s, p2 transaction cost, p3 latency, p4 delivered/s)
 *   BENCH_OUT=file         also write the markdown to this file
 *   BENCH_NODE_FLAGS=...   extra node flags for the measured processes
 */
import { fork } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { availableParallelism, freemem, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { BUILD_DIR, buildChildren } from './build';
import { loadConfig } from './config';
import { committedRow, deliveryRow, latencyRow, PgBenchContext, transactionRow } from './rows/postgres';
import { CollectorClient } from './support/collector-client';
import { RowResult, TargetCheck } from './support/context';
import { cpuModel, describeGit, gib, gitState, load } from './support/run-info';
import { runChild } from './support/spawn';
import { table } from './support/stats';

const ROWS: Array<{ id: string; name: string; run: (ctx: PgBenchContext) => Promise<RowResult> }> = [
  { id: 'p1', name: 'committed per second', run: committedRow },
  { id: 'p2', name: 'billing event in a user transaction', run: transactionRow },
  { id: 'p3', name: 'commit to 2xx latency', run: latencyRow },
  { id: 'p4', name: 'delivered per second', run: deliveryRow },
];

const benchStarted = Date.now();

function log(message: string): void {
  const seconds = ((Date.now() - benchStarted) / 1000).toFixed(1).padStart(6);
  process.stderr.write(`[bench:postgres ${seconds}s] ${message}\n`);
}

function deadPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

async function startCollector(): Promise<{ port: number; stop: () => void }> {
  const proc = fork(join(BUILD_DIR, 'collector.js'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const port = await new Promise<number>((resolve, reject) => {
    proc.once('message', (m: { port: number }) => resolve(m.port));
    proc.once('exit', (code) => reject(new Error(`collector exited with code ${code}`)));
  });
  return { port, stop: () => proc.kill('SIGTERM') };
}

async function main(): Promise<number> {
  const cfg = loadConfig();
  const startedAt = new Date();
  const loadAtStart = load();
  const git = gitState();
  const url = process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
  const pg = { url, schema: `bench_pg_${process.pid}`, table: 'outbox' };
  const wanted = process.env.BENCH_ROWS?.split(',').map((s) => s.trim().toLowerCase());
  const rows = ROWS.filter((row) => !wanted || wanted.includes(row.id));
  buildChildren({
    include: (file) => file === 'collector.ts' || file.startsWith('support') || /children\/pg-/.test(file),
  });

  let settings: Record<string, string>;
  try {
    ({ settings } = await runChild<{ type: 'result'; settings: Record<string, string> }>('pg-admin.ts', {
      ...pg,
      op: 'setup',
    }));
  } catch (err) {
    throw new Error(
      `PostgreSQL at ${url} did not answer or refused the set-up (${err instanceof Error ? err.message : err}); ` +
        'start one (e.g. PostgreSQL 15 on 127.0.0.1:5432 with trust auth and a database `test`) or set BENCH_PG_URL',
      { cause: err },
    );
  }
  const collector = await startCollector();
  const tmpDir = mkdtempSync(join(tmpdir(), 'bench-pg-'));
  const ctx: PgBenchContext = {
    cfg,
    collector: new CollectorClient(collector.port),
    deadPort: await deadPort(),
    log,
    pg,
    tmpDir,
    missing: { count: 0, notes: [] },
  };
  log(
    `collector on 127.0.0.1:${collector.port}; schema ${pg.schema}; ${cfg.quick ? 'QUICK, ' : ''}${cfg.runs} run(s); ` +
      `rows ${rows.map((r) => r.id).join(', ')}`,
  );

  const sections: string[] = [];
  const targets: TargetCheck[] = [];
  let crashed = 0;
  try {
    for (const row of rows) {
      const started = Date.now();
      log(`row ${row.id} (${row.name})`);
      try {
        const result = await row.run(ctx);
        sections.push(result.markdown);
        targets.push(...result.targets);
      } catch (err) {
        crashed++;
        const message = err instanceof Error ? err.message : String(err);
        log(`row ${row.id} crashed: ${err instanceof Error ? err.stack : message}`);
        sections.push(
          `### Row ${row.id} (${row.name}): not measured\n\nThe measurement crashed: \`${message.split('\n')[0]}\``,
        );
      }
      log(`row ${row.id} done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    }
  } finally {
    collector.stop();
    rmSync(tmpDir, { recursive: true, force: true });
    try {
      await runChild('pg-admin.ts', { ...pg, op: 'drop' });
    } catch (err) {
      log(`could not drop schema ${pg.schema}: ${err instanceof Error ? err.message : err}`);
    }
  }

  const header = [
    '## PostgreSQL outbox (issue 25), SQLite beside it',
    '',
    table(
      ['run', ''],
      [
        [
          'date',
          `${startedAt.toISOString()} to ${new Date().toISOString()} (${Math.round((Date.now() - benchStarted) / 1000)} s)`,
        ],
        ['library', `${describeGit(git)}; \`dist/\` as built when the run started`],
        ['load average (1 / 5 / 15 min)', `${loadAtStart} at the start, ${load()} at the end`],
        [
          'runs',
          `${cfg.runs} per figure, medians` +
            (cfg.quick ? ' · **QUICK smoke run** (`BENCH_QUICK=1`: small sizes; figures not meaningful)' : '') +
            (!cfg.quick && cfg.runs < 3 ? ' · **fewer than 3 runs: not a result**' : ''),
        ],
        ['rows', rows.map((r) => r.id).join(', ')],
        [
          'PostgreSQL',
          `${settings.server_version} at ${url.replace(/\/\/[^@/]*@/, '//…@')} (same machine); fsync ${settings.fsync}, ` +
            `synchronous_commit ${settings.synchronous_commit}, shared_buffers ${settings.shared_buffers}`,
        ],
        [
          'machine',
          `node ${process.version} · ${availableParallelism()} CPUs (${cpuModel()}) · ${gib(totalmem())} RAM (${gib(freemem())} free at the end)`,
        ],
        [
          'events missing',
          ctx.missing.count === 0
            ? 'none: every event committed and at the collector'
            : `**${ctx.missing.count}** (${ctx.missing.notes.join('; ')})`,
        ],
      ],
    ),
  ].join('\n');
  const targetTable = [
    '### Targets (measured, not asserted)',
    '',
    table(
      ['target', 'measured', 'met'],
      targets.map((t) => [t.target, t.measured, t.met ? 'yes' : '**no**']),
    ),
  ].join('\n');
  const markdown = [header, targetTable, ...sections].join('\n\n') + '\n';
  process.stdout.write(markdown);
  if (process.env.BENCH_OUT) writeFileSync(process.env.BENCH_OUT, markdown);
  if (ctx.missing.count > 0) log(`${ctx.missing.count} events missing: ${ctx.missing.notes.join('; ')}`);
  return crashed > 0 || ctx.missing.count > 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err instanceof Error ? err.stack : err);
    process.exit(1);
  },
);
