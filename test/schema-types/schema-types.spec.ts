// nestjs-snowplow-types: the generated catalogue of the fixture schemas compiles, and a call the
// catalogue forbids fails to compile for the reason expected (its TS error code, at its line).
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { SchemaTypesSourceError, SchemaTypesUsageError, SnowplowError } from '../../lib/errors';
import { parseSchemaTypesArgs, runSchemaTypesCli } from '../../lib/schema-types/schema-types.cli';
import { lineOf, typecheck } from '../support/typecheck';

const run = promisify(execFile);
const ROOT = resolve(__dirname, '../..');
const FIXTURE_IGLU = join(ROOT, 'test/fixtures/iglu');
const SWC_REGISTER = require.resolve('@swc-node/register');
const CLI = join(ROOT, 'lib/schema-types/schema-types.cli.ts');

jest.setTimeout(180_000);

let work: string;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'nestjs-snowplow-types-'));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('nestjs-snowplow-types on the fixture Iglu folder', () => {
  let dir: string;
  let generated: string;

  beforeAll(async () => {
    dir = join(work, 'app');
    mkdirSync(dir);
    // The bin itself, as a build runs it (json-schema-to-typescript loads prettier, which Jest's VM cannot).
    const { stdout } = await runBin(['--iglu', FIXTURE_IGLU, '--out', join(dir, 'snowplow-schemas.ts')]);
    // One type per schema of the folder, but for the Iglu meta-schema (it describes schemas, not events).
    const schemas = readdirSync(join(FIXTURE_IGLU, 'schemas'), { recursive: true, withFileTypes: true }).filter(
      (entry) => entry.isFile() && /\/jsonschema$/.test(entry.parentPath) && !entry.parentPath.includes('self-desc'),
    );
    expect(schemas.length).toBeGreaterThanOrEqual(8);
    expect(stdout).toContain(`wrote ${schemas.length} schema type(s)`);
    generated = readFileSync(join(dir, 'snowplow-schemas.ts'), 'utf8');
  });

  it('writes a readonly type and a URI constant per schema, and the catalogue', () => {
    expect(generated).toContain("export const ACME_CHECKOUT_V1_0_0 = 'iglu:com.acme/checkout/jsonschema/1-0-0';");
    expect(generated).toMatch(
      /export interface AcmeCheckoutV1_0_0 \{\s+readonly orderId: string;\s+readonly total: number;\s+readonly currency\?: \("EUR" \| "USD"\);\s+\}/,
    );
    expect(generated).toMatch(/readonly seat_ids\?: readonly string\[\];/);
    expect(generated).toContain("  'iglu:com.acme/cart/jsonschema/1-0-0': AcmeCartV1_0_0;");
    // The Iglu meta-schema describes schemas: it is no event, so it has no type.
    expect(generated).not.toContain("'iglu:com.snowplowanalytics.self-desc/schema/jsonschema/1-0-0'");
  });

  it('compiles with calls that follow the schemas, and refuses each wrong one for its reason', async () => {
    const header = [
      "import type { INestApplicationContext } from '@nestjs/common';",
      "import { Tracker, TrackerService } from 'nestjs-snowplow';",
      "import { ACME_CART_V1_0_0, ACME_CHECKOUT_V1_0_0, AcmeCheckoutV1_0_0, SnowplowSchemas } from './snowplow-schemas';",
      'declare const tracker: Tracker<SnowplowSchemas>;',
      'declare const service: TrackerService<SnowplowSchemas>;',
      '',
    ].join('\n');
    const ok = `${header}
tracker.trackSelfDescribingEvent({ schema: ACME_CHECKOUT_V1_0_0, data: { orderId: 'o-1', total: 42.5 } });
tracker.trackSelfDescribingEvent(
  { schema: 'iglu:com.acme/checkout/jsonschema/1-0-0', data: { orderId: 'o-1', total: 1, currency: 'EUR' } },
  { entities: [{ schema: ACME_CART_V1_0_0, data: { items: 3, coupon: null } }] },
);
service.trackSelfDescribingEvent({ schema: ACME_CHECKOUT_V1_0_0, data: { orderId: 'o-2', total: 0 } });
service.trackEvent('clicked', {}, { entities: [{ schema: ACME_CART_V1_0_0, data: { items: 1 } }] });
void tracker.inTransaction({} as never).trackSelfDescribingEvent({ schema: ACME_CHECKOUT_V1_0_0, data: { orderId: 'o', total: 1 } });
const checkout: AcmeCheckoutV1_0_0 = { orderId: 'o-3', total: 3 };
tracker.trackSelfDescribingEvent({ schema: ACME_CHECKOUT_V1_0_0, data: checkout });
// A TrackerService got by class (its type argument erased) stays loose.
declare const app: INestApplicationContext;
app.get(TrackerService).trackSelfDescribingEvent({ schema: 'iglu:com.other/thing/jsonschema/1-0-0', data: { a: 1 } });
// Without a catalogue, today's loose types: any Iglu URI, any object.
declare const loose: Tracker;
loose.trackSelfDescribingEvent({ schema: 'iglu:com.other/thing/jsonschema/1-0-0', data: { anything: [1] } }, { entities: [{ schema: 'iglu:a/b/jsonschema/1-0-0', data: { x: 1 } }] });
`;
    // Each case: the file's body, the marker of the line that must fail, the code, text in the message.
    const cases: Array<[string, string, string, string | string[], RegExp]> = [
      [
        'wrong-type',
        "tracker.trackSelfDescribingEvent({ schema: ACME_CHECKOUT_V1_0_0, data: { orderId: 'o-1', total: '42.5' } }); // FAIL",
        'FAIL',
        'TS2322',
        /Type 'string' is not assignable to type 'number'/,
      ],
      [
        'missing-field',
        "tracker.trackSelfDescribingEvent({ schema: ACME_CHECKOUT_V1_0_0, data: { orderId: 'o-1' } }); // FAIL",
        'FAIL',
        'TS2741',
        /Property 'total' is missing in type '\{ orderId: string; \}' but required in type 'AcmeCheckoutV1_0_0'/,
      ],
      [
        'service-missing-field',
        'service.trackSelfDescribingEvent({ schema: ACME_CHECKOUT_V1_0_0, data: { total: 1 } }); // FAIL',
        'FAIL',
        'TS2741',
        /Property 'orderId' is missing/,
      ],
      [
        'unknown-schema',
        "tracker.trackSelfDescribingEvent({ schema: 'iglu:com.acme/refund/jsonschema/1-0-0', data: { orderId: 'o' } }); // FAIL",
        'FAIL',
        // The URI is refused; data then matches no schema of the catalogue either.
        ['TS2820', 'TS2322'],
        /"iglu:com.acme\/refund\/jsonschema\/1-0-0"' is not assignable/,
      ],
      [
        'entity-wrong-type',
        "tracker.trackStructEvent({ category: 'c', action: 'a' }, { entities: [{ schema: ACME_CART_V1_0_0, data: { items: '3' } }] }); // FAIL",
        'FAIL',
        'TS2322',
        /Type 'string' is not assignable to type 'number'/,
      ],
      [
        'readonly-field',
        "const c: AcmeCheckoutV1_0_0 = { orderId: 'o', total: 1 };\nc.total = 2; // FAIL",
        'FAIL',
        'TS2540',
        /Cannot assign to 'total' because it is a read-only property/,
      ],
    ];
    writeFileSync(join(dir, 'ok.ts'), ok);
    const sources = new Map<string, string>();
    for (const [name, body] of cases) {
      const source = `${header}${body}\n`;
      sources.set(name, source);
      writeFileSync(join(dir, `${name}.ts`), source);
    }
    const diagnostics = await typecheck(dir, ['ok.ts', ...cases.map(([name]) => `${name}.ts`)]);
    // The generated file and the right calls compile: every error is in a case file.
    expect(diagnostics.filter((d) => !cases.some(([name]) => d.file === `${name}.ts`))).toEqual([]);
    for (const [name, , marker, code, message] of cases) {
      const found = diagnostics.filter((d) => d.file === `${name}.ts`);
      expect({ name, found: found.map(({ line, code: c }) => ({ line, code: c })) }).toEqual({
        name,
        found: (typeof code === 'string' ? [code] : code).map((c) => ({
          line: lineOf(sources.get(name)!, marker),
          code: c,
        })),
      });
      expect(found[0].message).toMatch(message);
    }
  });
});

describe('nestjs-snowplow-types errors', () => {
  it.each([
    [[], '--iglu', /--iglu: is required/],
    [['--out', 'x.ts'], '--iglu', /--iglu: is required/],
    [['--iglu', 'iglu'], '--out', /--out: is required/],
    [['--iglu', 'iglu', '--out', 'x.js'], '--out', /must name a \.ts file/],
    [['--iglu', 'iglu', '--out', 'x.ts', '--name', '1x'], '--name', /must be a TypeScript identifier/],
    [['--iglu', 'iglu', '--out', 'x.ts', '--bogus'], '--bogus', /Unknown option '--bogus'/],
  ])('%j is a usage error naming %s', (argv, flag, message) => {
    const error = catchError(() => parseSchemaTypesArgs(argv));
    expect(error).toBeInstanceOf(SchemaTypesUsageError);
    expect(error).toMatchObject({ code: 'SCHEMA_TYPES_USAGE', flag });
    expect((error as Error).message).toMatch(message);
  });

  it('an unreadable folder names it', async () => {
    const missing = join(work, 'no-such-iglu');
    const error = await runSchemaTypesCli(['--iglu', missing, '--out', join(work, 'x.ts')]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SchemaTypesSourceError);
    expect(error).toMatchObject({ code: 'SCHEMA_TYPES_SOURCE', file: missing });
    expect((error as Error).message).toContain('not a directory');
  });

  it('a schema file that is not JSON, or that json-schema-to-typescript cannot convert, names the file', async () => {
    const iglu = join(work, 'bad-iglu');
    const broken = join(iglu, 'schemas/com.acme/broken/jsonschema/1-0-0');
    mkdirSync(join(broken, '..'), { recursive: true });
    writeFileSync(broken, '{ "self": ');
    let error = await runSchemaTypesCli(['--iglu', iglu, '--out', join(work, 'x.ts')]).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'SCHEMA_TYPES_SOURCE', file: broken });
    expect((error as Error).message).toMatch(/not valid JSON/);

    const self = { vendor: 'com.acme', name: 'broken', format: 'jsonschema', version: '1-0-0' };
    writeFileSync(broken, JSON.stringify({ self, type: 'object', properties: { a: { $ref: '#/definitions/none' } } }));
    error = await runBin(['--iglu', iglu, '--out', join(work, 'x.ts')]).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 1 });
    expect((error as { stderr: string }).stderr).toContain(
      `SchemaTypesSourceError [SCHEMA_TYPES_SOURCE]: nestjs-snowplow-types: ${broken}: json-schema-to-typescript cannot convert it`,
    );
  });

  it('the bin exits 2 on a usage error, 1 on a bad folder, printing the code', async () => {
    const usage = await runBin(['--out', 'x.ts']).catch((e: unknown) => e);
    expect(usage).toMatchObject({ code: 2 });
    expect((usage as { stderr: string }).stderr).toMatch(/SchemaTypesUsageError \[SCHEMA_TYPES_USAGE\].*--iglu/);
    const source = await runBin(['--iglu', join(work, 'none'), '--out', 'x.ts']).catch((e: unknown) => e);
    expect(source).toMatchObject({ code: 1 });
    expect((source as { stderr: string }).stderr).toMatch(/SCHEMA_TYPES_SOURCE.*none: not a directory/);
  });
});

function runBin(argv: string[]) {
  return run(process.execPath, ['-r', SWC_REGISTER, CLI, ...argv], { cwd: work });
}

function catchError(action: () => unknown): SnowplowError | unknown {
  try {
    action();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw');
}
