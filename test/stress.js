#!/usr/bin/env node
// npm run test:stress: the whole Jest suite RUNS times in a row (default 5) while a busy loop in
// another process takes one core, as when other jobs share the machine. Every run must pass.
// Not part of CI. Prints one line per run and a summary; exits 1 if any run failed.
const { spawn, spawnSync } = require('node:child_process');
const { join } = require('node:path');

const log = (line) => process.stdout.write(`${line}\n`);

const ROOT = join(__dirname, '..');
const RUNS = Number(process.env.RUNS ?? 5);
const jest = join(ROOT, 'node_modules', 'jest', 'bin', 'jest.js');

// The CPU burner: spins until this script ends it (and ends itself if this script dies).
const burnerCode = `const parent = ${process.pid};
for (;;) {
  const until = Date.now() + 200;
  while (Date.now() < until);
  try { process.kill(parent, 0); } catch { process.exit(0); }
}`;
const burner = spawn(process.execPath, ['-e', burnerCode], { stdio: 'ignore' });
const stopBurner = () => {
  if (burner.exitCode === null && burner.signalCode === null) burner.kill('SIGKILL');
};
process.on('exit', stopBurner);
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => process.exit(130));

const results = [];
for (let run = 1; run <= RUNS; run++) {
  const started = Date.now();
  const result = spawnSync(process.execPath, [jest, '--silent'], {
    cwd: ROOT,
    stdio: ['ignore', 'inherit', 'pipe'],
    encoding: 'utf8',
  });
  const seconds = Math.round((Date.now() - started) / 1000);
  const stderr = result.stderr ?? '';
  const summary = /^Tests:.*$/m.exec(stderr)?.[0] ?? '(no summary)';
  const failed = stderr.split('\n').filter((line) => /^\s*● /.test(line));
  results.push({ run, ok: result.status === 0, seconds, summary, failed });
  log(`run ${run}/${RUNS}: ${result.status === 0 ? 'PASS' : 'FAIL'} in ${seconds} s — ${summary}`);
  for (const line of [...new Set(failed)]) log(`    ${line.trim()}`);
}
stopBurner();
const passed = results.filter((r) => r.ok).length;
log(`\n${passed} passed, ${RUNS - passed} failed (whole-suite runs, one core busy)`);
process.exit(passed === RUNS ? 0 : 1);
