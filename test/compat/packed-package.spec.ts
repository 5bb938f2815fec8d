// The compatibility matrix: the package as published (`npm pack`), installed into fresh apps
// outside the repository with Nest 12 and with Nest 11, used from its entry points only.
// Needs the npm registry (as `npm ci` does).
import { execFile } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const ROOT = join(__dirname, '../..');
const FIXTURE = join(__dirname, '../fixtures/packed-app');
const SWC_REGISTER = require.resolve('@swc-node/register');

jest.setTimeout(15 * 60_000);

let work: string;
let tarball: string;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'nestjs-snowplow-packed-'));
  await run('npm', ['pack', '--pack-destination', work], { cwd: ROOT, maxBuffer: 64 * 1024 * 1024 });
  tarball = join(
    work,
    readdirSync(work).find((f) => f.endsWith('.tgz'))!,
  );
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

async function smokeApp(nestMajor: 11 | 12) {
  const dir = join(work, `nest${nestMajor}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir);
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: `packed-smoke-nest${nestMajor}`, private: true }));
  for (const file of ['smoke.ts', 'tsconfig.json']) copyFileSync(join(FIXTURE, file), join(dir, file));
  const packages = [
    tarball,
    `@nestjs/common@${nestMajor}`,
    `@nestjs/core@${nestMajor}`,
    `@nestjs/platform-express@${nestMajor}`,
    'reflect-metadata@0.2',
    'rxjs@7',
  ];
  await run('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error', ...packages], {
    cwd: dir,
    maxBuffer: 64 * 1024 * 1024,
  });
  const { stdout } = await run(process.execPath, ['-r', SWC_REGISTER, 'smoke.ts'], { cwd: dir, timeout: 120_000 });
  return JSON.parse(stdout.trim().split('\n').pop()!);
}

describe.each([12, 11] as const)('the packed package in a fresh Nest %i app', (nestMajor) => {
  it('forRoot, a decorated handler, billing and a drain on close all work from the published entry points', async () => {
    const result = await smokeApp(nestMajor);
    expect(result).toEqual({
      nest: expect.stringMatching(new RegExp(`^${nestMajor}\\.`)),
      status: 200,
      ping: [{ pong: true }],
      queued: 500,
      billing: 1,
      bad: 0,
      enqueuedBeforeClose: 502,
      deepImport: 'ERR_PACKAGE_PATH_NOT_EXPORTED',
    });
  });
});
