#!/usr/bin/env node
// npm run mutate [folder...]: one StrykerJS pass per core folder, each running only the tests that
// folder needs (Stryker's per-test coverage then runs, for each mutant, the tests that reach it).
// Reports: reports/mutation/<folder>.json and the clear-text table on stdout.
const { spawnSync } = require('node:child_process');
const { join } = require('node:path');

const log = (line) => process.stdout.write(`${line}\n`);
const fail = (line) => process.stderr.write(`${line}\n`);

const TARGETS = {
  tracker: {
    mutate: 'lib/tracker/**/*.ts',
    tests: ['tracker/*.spec.ts', 'bad-input.spec.ts'],
  },
  storage: {
    mutate: 'lib/storage/**/*.ts',
    // The outbox's process and volume suites (outbox-*.spec.ts) are left out: too slow per mutant.
    tests: [
      'storage/ring-buffer.storage.spec.ts',
      'storage/storage-contract.spec.ts',
      'storage/sqlite.storage.spec.ts',
      'storage/sqlite-outbox.spec.ts',
      'storage/storage-edges.spec.ts',
      'storage/storage-bounds.spec.ts',
      'storage/storage-errors.spec.ts',
      'storage/sqlite-shared.spec.ts',
      'storage/sqlite-file.spec.ts',
    ],
  },
  emitter: {
    mutate: 'lib/emitter/**/*.ts',
    // fault-injection.spec.ts (10,000-event outages) and the outbox process suites are left out:
    // too slow to run per mutant. send-pass.spec.ts runs the send path on a real outbox instead.
    tests: [
      'emitter/*.spec.ts',
      'faults/billing-grade.spec.ts',
      'bad-input.spec.ts',
      'dead-letter/dead-letter-file.spec.ts',
      'metrics/metrics.spec.ts',
      // Emitter#correlationIdDropped and maxEventBytes, driven by the tracker.
      'tracker/correlation-id-size.spec.ts',
    ],
  },
  // The send path alone (a quicker pass than the whole folder): npm run mutate emitter-core.
  'emitter-core': {
    mutate: ['send-pass', 'backoff', 'outcome', 'settlement', 'loop-signal']
      .map((f) => `lib/emitter/${f}.ts`)
      .join(','),
    tests: [
      'emitter/backoff.spec.ts',
      'emitter/outcome.spec.ts',
      'emitter/send-pass.spec.ts',
      'emitter/emitter-retry.spec.ts',
      'emitter/emitter-delivery.spec.ts',
      'emitter/emitter-robustness.spec.ts',
      'faults/billing-grade.spec.ts',
    ],
  },
  replay: {
    // replay.cli.ts is in: its parsing, runReplayCli and the summary and advice lines run in-process
    // in replay-cli.spec.ts; only main() (run by that suite in a child process, which Stryker cannot
    // instrument) is excluded, with a Stryker directive in the file.
    mutate: 'lib/replay/**/*.ts',
    // replay-scale.spec.ts (60,000-line files, kill -9 of a child) is left out: too slow per mutant.
    tests: [
      'replay/replay.spec.ts',
      'replay/replay-faults.spec.ts',
      'replay/replay-cli.spec.ts',
      'replay/replay-answers.spec.ts',
      'replay/replay-report.spec.ts',
      'replay/replay-journal.spec.ts',
      'replay/replay-journal-format.spec.ts',
      'replay/replay-rewrite.spec.ts',
      'replay/replay-lines.spec.ts',
      'replay/legacy-lane.spec.ts',
    ],
  },
  auth: {
    mutate: 'lib/auth/**/*.ts',
    tests: ['auth/*.spec.ts', 'emitter/emitter-retry.spec.ts'],
  },
};

const chosen = process.argv.slice(2);
const names = chosen.length > 0 ? chosen : Object.keys(TARGETS);
let failed = false;
for (const name of names) {
  const target = TARGETS[name];
  if (!target) {
    fail(`unknown folder ${name}; one of ${Object.keys(TARGETS).join(', ')}`);
    process.exit(2);
  }
  const started = Date.now();
  log(`\n=== mutating ${target.mutate} with ${target.tests.join(' ')}`);
  const result = spawnSync(
    process.execPath,
    [join(__dirname, '../../node_modules/@stryker-mutator/core/bin/stryker.js'), 'run'],
    {
      cwd: join(__dirname, '../..'),
      stdio: 'inherit',
      env: { ...process.env, MUTATE: target.mutate, MUTATION_TESTS: target.tests.join(','), MUTATION_NAME: name },
    },
  );
  log(`=== ${name}: exit ${result.status} after ${Math.round((Date.now() - started) / 1000)} s`);
  if (result.status !== 0) failed = true;
}
process.exit(failed ? 1 : 0);
