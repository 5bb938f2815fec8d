// The compatibility matrix: the package as published (`npm pack`), installed into fresh apps
// outside the repository with Nest 12 and with Nest 11, used from its entry points only.
// Needs the npm registry (as `npm ci` does).
import { execFile, spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { customEventItem, payloadBody, postPayload } from '../testing/support/snowplow-payloads';
import { waitFor } from '../support/wait-for';

const run = promisify(execFile);
const ROOT = join(__dirname, '../..');
const FIXTURE = join(__dirname, '../fixtures/packed-app');
const SWC_REGISTER = require.resolve('@swc-node/register');
const TSC = require.resolve('typescript/bin/tsc');

jest.setTimeout(15 * 60_000);

let work: string;
let tarball: string;
/** Both fresh apps are installed at once (the installs mostly wait on the registry and the disk). */
const apps: Partial<Record<11 | 12, Promise<Awaited<ReturnType<typeof smokeApp>>>>> = {};

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'nestjs-snowplow-packed-'));
  await run('npm', ['pack', '--pack-destination', work], { cwd: ROOT, maxBuffer: 64 * 1024 * 1024 });
  tarball = join(
    work,
    readdirSync(work).find((f) => f.endsWith('.tgz'))!,
  );
  for (const major of [12, 11] as const) {
    apps[major] = smokeApp(major);
    // Awaited by its describe; until then a failure must not count as unhandled.
    apps[major].catch(() => undefined);
  }
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

async function smokeApp(nestMajor: 11 | 12) {
  const dir = join(work, `nest${nestMajor}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir);
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: `packed-smoke-nest${nestMajor}`, private: true }));
  for (const file of ['smoke.ts', 'tsconfig.json', 'consumer.ts']) copyFileSync(join(FIXTURE, file), join(dir, file));
  // The same consumer as an ES module, for the resolutions that tell the two apart.
  copyFileSync(join(FIXTURE, 'consumer.ts'), join(dir, 'consumer.mts'));
  const packages = [
    tarball,
    `@nestjs/common@${nestMajor}`,
    `@nestjs/core@${nestMajor}`,
    `@nestjs/platform-express@${nestMajor}`,
    `@nestjs/terminus@${nestMajor}`,
    'reflect-metadata@0.2',
    'rxjs@7',
    // Optional peers of nestjs-snowplow/testing, as its README says to install them.
    'ajv@8',
    'ajv-formats@3',
    // A Jest setup as the README gives it (Nest 12 only: its ES modules are what the preset is for).
    ...(nestMajor === 12 ? ['@nestjs/testing@12', 'jest@30', '@swc/jest', '@swc/core'] : []),
    // The types bin's optional peers, as its README section says to install them (Nest 12 only:
    // the Nest 11 app shows the bin without them).
    ...(nestMajor === 12 ? ['json-schema-to-typescript@16', 'typescript@6'] : []),
  ];
  await run('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error', ...packages], {
    cwd: dir,
    maxBuffer: 64 * 1024 * 1024,
  });
  const { stdout } = await run(process.execPath, ['-r', SWC_REGISTER, 'smoke.ts'], { cwd: dir, timeout: 120_000 });
  if (nestMajor === 12) {
    copyFileSync(join(FIXTURE, 'jest-app.ts'), join(dir, 'app.spec.ts'));
    writeFileSync(join(dir, 'jest.config.js'), "module.exports = { preset: 'nestjs-snowplow' };\n");
  }
  return { dir, result: JSON.parse(stdout.trim().split('\n').pop()!) };
}

/** Each moduleResolution a TypeScript app may use, with the consumer file it compiles. */
const RESOLUTIONS: Array<[string, Record<string, string>, string]> = [
  ['node10', { module: 'commonjs', moduleResolution: 'node10' }, 'consumer.ts'],
  ['node16', { module: 'node16', moduleResolution: 'node16' }, 'consumer.mts'],
  ['nodenext', { module: 'nodenext', moduleResolution: 'nodenext' }, 'consumer.mts'],
  ['nodenext (CommonJS consumer)', { module: 'nodenext', moduleResolution: 'nodenext' }, 'consumer.ts'],
  ['bundler', { module: 'esnext', moduleResolution: 'bundler' }, 'consumer.ts'],
];

/**
 * Type-checks the consumer in `dir` under one moduleResolution with the repository's TypeScript; resolves tsc's
 * output.
 */
async function typecheck(dir: string, name: string, options: Record<string, string>, file: string): Promise<string> {
  const config = join(dir, `tsconfig.${name.replace(/\W+/g, '-')}.json`);
  const compilerOptions = {
    ...options,
    target: 'ES2022',
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    experimentalDecorators: true,
    emitDecoratorMetadata: true,
    types: [],
    ignoreDeprecations: '6.0',
  };
  writeFileSync(config, JSON.stringify({ compilerOptions, files: [file] }));
  try {
    await run(process.execPath, [TSC, '-p', config], { cwd: dir, maxBuffer: 16 * 1024 * 1024 });
    return 'ok';
  } catch (err) {
    return String((err as { stdout?: string }).stdout ?? err);
  }
}

describe.each([12, 11] as const)('the packed package in a fresh Nest %i app', (nestMajor) => {
  let app: Awaited<ReturnType<typeof smokeApp>>;
  /** The type checks of this app, all started at once (each is a tsc process). */
  const checks = new Map<string, Promise<string>>();
  beforeAll(async () => {
    app = await apps[nestMajor]!;
    for (const [name, options, file] of RESOLUTIONS) checks.set(name, typecheck(app.dir, name, options, file));
  });

  it('forRoot, a decorated handler, billing and a drain on close all work from the published entry points', () => {
    expect(app.result).toEqual({
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

  it('the installed nestjs-snowplow-collector bin (built, from dist/) validates and prints events, and exits 0 on SIGTERM', async () => {
    const bin = join(app.dir, 'node_modules', '.bin', 'nestjs-snowplow-collector');
    // Run as npx would: the bin link and its shebang, not node with a path.
    const child = spawn(bin, ['--port', '0'], { cwd: app.dir, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (chunk) => (out += chunk));
    child.stderr.on('data', (chunk) => (out += chunk));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      const endpoint = await waitFor(() => /tracker endpoint (\S+)\n/.exec(out)?.[1], {
        timeoutMs: 30_000,
        what: `the banner (output: ${out})`,
      });
      const answer = await postPayload(endpoint, payloadBody(customEventItem('from_built_bin', null)));
      expect(answer.status).toBe(200);
      await postPayload(endpoint, payloadBody({ e: 'ue', p: 'srv', tv: 'x', eid: 'not-a-uuid' }));
      await waitFor(() => /GOOD ue from_built_bin /.test(out) && /BAD/.test(out), {
        what: `a GOOD and a BAD line (output: ${out})`,
      });
      const counts = (await (
        await fetch(endpoint.replace(/\/com\.snowplowanalytics.*$/, '/micro/all'))
      ).json()) as unknown;
      expect(counts).toEqual({ total: 2, good: 1, bad: 1, dropped: 0 });
      // The event viewer, served from the installed package's viewer/ folder.
      const viewerUrl = /event viewer (\S+)\n/.exec(out)?.[1] as string;
      expect(viewerUrl).toBe(endpoint.replace(/\/com\.snowplowanalytics.*$/, '/micro/ui'));
      const page = await fetch(viewerUrl);
      expect([page.status, page.headers.get('content-type')]).toEqual([200, 'text/html; charset=utf-8']);
      expect(await page.text()).toContain('<script src="/micro/ui/viewer.js" defer></script>');
      for (const [file, type] of [
        ['events.js', 'text/javascript; charset=utf-8'],
        ['detail.js', 'text/javascript; charset=utf-8'],
        ['requests.js', 'text/javascript; charset=utf-8'],
        ['faults.js', 'text/javascript; charset=utf-8'],
        ['viewer.js', 'text/javascript; charset=utf-8'],
        ['viewer.css', 'text/css; charset=utf-8'],
        ['faults.css', 'text/css; charset=utf-8'],
      ]) {
        const asset = await fetch(`${viewerUrl}/${file}`);
        expect([asset.status, asset.headers.get('content-type')]).toEqual([200, type]);
        expect((await asset.text()).length).toBeGreaterThan(1000);
      }
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
  });

  if (nestMajor === 12) {
    it("a Jest test of the Nest 12 app runs with one line of config: preset 'nestjs-snowplow'", async () => {
      const jest = join(app.dir, 'node_modules', 'jest', 'bin', 'jest.js');
      const { stdout, stderr } = await run(process.execPath, [jest, '--ci', '--colors=false'], {
        cwd: app.dir,
        timeout: 180_000,
        maxBuffer: 16 * 1024 * 1024,
      }).catch((error: { stdout?: string; stderr?: string }) => {
        throw new Error(`jest failed in the fresh app:\n${error.stdout ?? ''}\n${error.stderr ?? ''}`);
      });
      expect(`${stdout}${stderr}`).toMatch(/Tests:\s+1 passed, 1 total/);
    });
  }

  it('the installed nestjs-snowplow-types bin writes the catalogue, or names the package it needs', async () => {
    const bin = join(app.dir, 'node_modules', '.bin', 'nestjs-snowplow-types');
    const iglu = join(app.dir, 'node_modules', 'nestjs-snowplow', 'iglu');
    const out = join(app.dir, 'snowplow-schemas.ts');
    // Run as npx would: the bin link and its shebang.
    const result = await run(bin, ['--iglu', iglu, '--out', out], { cwd: app.dir }).then(
      ({ stdout }) => ({ code: 0, stdout, stderr: '' }),
      (error: { code: number; stdout: string; stderr: string }) => error,
    );
    if (nestMajor === 12) {
      expect(result).toMatchObject({ code: 0, stdout: expect.stringContaining(`schema type(s) to ${out}`) });
      expect(readFileSync(out, 'utf8')).toContain(
        "export const GITLAB_CUSTOM_EVENT_V1_0_0 = 'iglu:com.gitlab/custom_event/jsonschema/1-0-0';",
      );
    } else {
      expect(result).toMatchObject({ code: 1 });
      expect(result.stderr).toContain('MissingDependencyError [MISSING_DEPENDENCY]');
      expect(result.stderr).toContain('npm install -D json-schema-to-typescript@16');
    }
  });

  it.each(RESOLUTIONS)('every entry point type-checks under moduleResolution %s', async (name) => {
    expect(await checks.get(name)).toBe('ok');
  });
});
