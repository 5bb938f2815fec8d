/**
 * `npm run bench`: nestjs-snowplow against @snowplow/node-tracker on one loopback collector.
 * Prints the results as markdown on stdout (progress goes to stderr). Never fails on speed: the
 * exit code is non-zero only when a measurement crashed.
 *
 *   BENCH_QUICK=1          fast smoke run (1 run, fewer events, shorter loads)
 *   BENCH_RUNS=n           repetitions (default 5)
 *   BENCH_ROWS=1,2,...     only these rows (1, 1b, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11)
 *   BENCH_OUT=file         also write the markdown to this file
 *   BENCH_NODE_FLAGS=...   extra node flags for the measured processes (e.g. --cpu-prof)
 *   BENCH_EMITTER_OPTIONS  JSON of extra options for our Emitter in rows 1-3 and 8 (an experiment)
 */
import { fork } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { availableParallelism, freemem, totalmem } from 'node:os';
import { join } from 'node:path';
import { BUILD_DIR, buildChildren } from './build';
import { loadConfig } from './config';
import { backlogRow } from './rows/backlog';
import { burstRow } from './rows/burst';
import { deliveryCostRow } from './rows/delivery-cost';
import { durableRow } from './rows/durable';
import { hotPathRow } from './rows/hot-path';
import { interceptorRow } from './rows/interceptor';
import { lingerRow } from './rows/linger';
import { memoryRow } from './rows/memory';
import { memoryBreakdownRow } from './rows/memory-breakdown';
import { rateRow } from './rows/rate';
import { replayRow } from './rows/replay';
import { shutdownRow } from './rows/shutdown';
import { CollectorClient } from './support/collector-client';
import { BenchContext, RowResult, TargetCheck } from './support/context';
import { cpuModel, describeGit, gib, gitState, load } from './support/run-info';
import { table } from './support/stats';
import { emitterOptionsFromEnv, nodeTrackerVersion } from './support/subjects';

const ROWS: Array<{ id: string; name: string; run: (ctx: BenchContext) => Promise<RowResult> }> = [
  { id: '1', name: 'hot path', run: hotPathRow },
  { id: '1b', name: 'steady rate', run: rateRow },
  { id: '2', name: 'end to end', run: burstRow },
  { id: '3', name: 'memory', run: memoryRow },
  { id: '4', name: 'shutdown', run: shutdownRow },
  { id: '6', name: 'durable outbox', run: durableRow },
  { id: '7', name: 'delivery cost', run: deliveryCostRow },
  { id: '8', name: 'backlog curve', run: backlogRow },
  { id: '9', name: 'memory breakdown', run: memoryBreakdownRow },
  { id: '10', name: 'replay', run: replayRow },
  { id: '11', name: 'adaptive batching curve', run: lingerRow },
  // Last: it needs the @TrackEvent interceptor.
  { id: '5', name: 'interceptor', run: interceptorRow },
];

const benchStarted = Date.now();

function log(message: string): void {
  const seconds = ((Date.now() - benchStarted) / 1000).toFixed(1).padStart(6);
  process.stderr.write(`[bench ${seconds}s] ${message}\n`);
}

/** A loopback port that nothing listens on (taken and released). */
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
  const proc = fork(join(BUILD_DIR, 'collector.js'), [], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const port = await new Promise<number>((resolve, reject) => {
    proc.once('message', (m: { port: number }) => resolve(m.port));
    proc.once('exit', (code) => reject(new Error(`collector exited with code ${code}`)));
  });
  return {
    port,
    stop: () => {
      proc.kill('SIGTERM');
    },
  };
}

async function main(): Promise<number> {
  const cfg = loadConfig();
  const startedAt = new Date();
  const loadAtStart = load();
  const git = gitState();
  const emitterOptions = emitterOptionsFromEnv();
  const wanted = process.env.BENCH_ROWS?.split(',').map((s) => s.trim());
  const rows = ROWS.filter((row) => !wanted || wanted.includes(row.id));
  buildChildren();
  const collector = await startCollector();
  const ctx: BenchContext = {
    cfg,
    collector: new CollectorClient(collector.port),
    deadPort: await deadPort(),
    log,
  };
  log(
    `collector on 127.0.0.1:${collector.port}; ${cfg.quick ? 'QUICK, ' : ''}${cfg.runs} run(s); rows ${rows.map((r) => r.id).join(', ')}`,
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
  }

  const header = [
    `## nestjs-snowplow vs @snowplow/node-tracker ${nodeTrackerVersion()}`,
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
          `${cfg.runs} per figure, medians; ratios within a run` +
            (cfg.quick
              ? ' · **QUICK smoke run** (`BENCH_QUICK=1`: fewer events, shorter loads; figures not meaningful)'
              : '') +
            (!cfg.quick && cfg.runs < 3 ? ' · **fewer than 3 runs: not a result**' : ''),
        ],
        ['rows', rows.map((r) => r.id).join(', ')],
        [
          'machine',
          `node ${process.version} · ${availableParallelism()} CPUs (${cpuModel()}) · ${gib(totalmem())} RAM (${gib(freemem())} free at the end)`,
        ],
      ],
    ),
    ...(Object.keys(emitterOptions).length
      ? [
          '',
          `**Experiment:** our Emitter built with \`${JSON.stringify(emitterOptions)}\` (BENCH_EMITTER_OPTIONS; rows 1–3 and 8 only).`,
        ]
      : []),
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
  return crashed > 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err instanceof Error ? err.stack : err);
    process.exit(1);
  },
);
