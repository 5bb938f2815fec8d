#!/usr/bin/env node
// npm run test:stress: the whole Jest suite RUNS times in a row (default 5) while a busy loop in
// another process takes one core, as when other jobs share the machine. Every run must pass.
// Not part of CI. Prints one line per run (and the failed tests) and a summary; each run's full
// output is kept in reports/stress/run-N.log. Exits 1 if any run failed.
const { spawn } = require('node:child_process');
const { createWriteStream, mkdirSync } = require('node:fs');
const { join } = require('node:path');

const log = (line) => process.stdout.write(`${line}\n`);
const ROOT = join(__dirname, '..');
const RUNS = Number(process.env.RUNS ?? 5);
const JEST = join(ROOT, 'node_modules', 'jest', 'bin', 'jest.js');
const LOGS = join(ROOT, 'reports', 'stress');

// The CPU burner: spins until this script ends it, and ends itself if this script dies.
const burnerCode = `const parent = ${process.pid};
for (;;) {
  const until = Date.now() + 200;
  while (Date.now() < until);
  try { process.kill(parent, 0); } catch { process.exit(0); }
}`;
const burner = spawn(process.execPath, ['-e', burnerCode], { stdio: 'ignore' });
let current;
const stopChildren = () => {
  for (const child of [current, burner]) {
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
};
process.on('exit', stopChildren);
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => process.exit(130));

function runSuite(run) {
  return new Promise((resolve) => {
    const file = join(LOGS, `run-${run}.log`);
    const out = createWriteStream(file);
    let text = '';
    current = spawn(process.execPath, [JEST], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    for (const stream of [current.stdout, current.stderr]) {
      stream.on('data', (chunk) => {
        out.write(chunk);
        text += chunk;
      });
    }
    current.on('close', (code) => {
      out.end();
      resolve({ code, text, file });
    });
  });
}

async function main() {
  mkdirSync(LOGS, { recursive: true });
  let passed = 0;
  for (let run = 1; run <= RUNS; run++) {
    const started = Date.now();
    const { code, text, file } = await runSuite(run);
    const seconds = Math.round((Date.now() - started) / 1000);
    const summary = /^Tests:.*$/m.exec(text)?.[0] ?? '(no summary)';
    if (code === 0) passed++;
    log(
      `run ${run}/${RUNS}: ${code === 0 ? 'PASS' : 'FAIL'} in ${seconds} s (${summary.replace(/\s+/g, ' ')}) ${file}`,
    );
    const failed = new Set(text.split('\n').filter((line) => /^\s*● .* › /.test(line)));
    for (const line of failed) log(`    ${line.trim()}`);
  }
  stopChildren();
  log(`\n${passed} passed, ${RUNS - passed} failed (whole-suite runs, one core busy)`);
  process.exit(passed === RUNS ? 0 : 1);
}

void main();
