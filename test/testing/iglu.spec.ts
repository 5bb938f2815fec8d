import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  builtinIgluRegistry,
  decodeEvent,
  decodePayloadBody,
  IgluRegistryError,
  loadIgluRegistry,
} from '../../lib/testing';
import { decodeBase64Json, decodeBase64Text } from '../../lib/testing/base64-json';
import { BUILTIN_IGLU_DIR } from '../../lib/testing/builtin-registry';
import { parseIgluUri } from '../../lib/testing/iglu-uri';
import {
  base64Json,
  base64UrlJson,
  billableUsage,
  billingItem,
  BILLABLE_USAGE,
  CONTEXTS,
  contexts,
  CUSTOM_EVENT,
  customEventItem,
  FIXTURE_IGLU_DIR,
  PAYLOAD_DATA,
  payloadBody,
  unstruct,
} from './support/snowplow-payloads';

const SELF_DESC = 'iglu:com.snowplowanalytics.self-desc/schema/jsonschema/1-0-0';
const tmpDirs: string[] = [];

/** A throwaway registry dir holding the given `VENDOR/NAME/FORMAT/VERSION` → content files. */
function makeRegistry(files: Record<string, unknown>): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'iglu-'));
  tmpDirs.push(root);
  for (const [relative, content] of Object.entries(files)) {
    const file = path.join(root, 'schemas', relative);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content));
  }
  return root;
}

function igluSchema(
  vendor: string,
  name: string,
  version: string,
  body: Record<string, unknown>,
): Record<string, unknown> {
  return {
    $schema: 'http://iglucentral.com/schemas/com.snowplowanalytics.self-desc/schema/jsonschema/1-0-0#',
    self: { vendor, name, format: 'jsonschema', version },
    ...body,
  };
}

function filesUnder(dir: string): string[] {
  return fs
    .readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => path.relative(dir, path.join(entry.parentPath, entry.name)))
    .sort();
}

afterAll(() => {
  for (const dir of tmpDirs) fs.rmSync(dir, { recursive: true, force: true });
});

describe('built-in registry', () => {
  it('is the iglu/ folder at the package root, identical to the test fixtures but the test-only com.acme schemas', () => {
    expect(BUILTIN_IGLU_DIR).toBe(path.resolve(__dirname, '../../iglu'));
    const shipped = filesUnder(BUILTIN_IGLU_DIR);
    expect(shipped).toEqual(filesUnder(FIXTURE_IGLU_DIR).filter((file) => !file.startsWith('schemas/com.acme/')));
    for (const file of shipped) {
      expect(fs.readFileSync(path.join(BUILTIN_IGLU_DIR, file), 'utf8')).toBe(
        fs.readFileSync(path.join(FIXTURE_IGLU_DIR, file), 'utf8'),
      );
    }
  });

  it('compiles every schema once and knows them by URI', () => {
    const registry = builtinIgluRegistry();
    expect(registry.uris()).toEqual([
      BILLABLE_USAGE,
      CUSTOM_EVENT,
      SELF_DESC,
      'iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-0',
      CONTEXTS,
      PAYLOAD_DATA,
      'iglu:com.snowplowanalytics.snowplow/unstruct_event/jsonschema/1-0-0',
      'iglu:dev.nestjs-snowplow/request/jsonschema/1-0-0',
    ]);
    expect(builtinIgluRegistry()).toBe(registry);
    expect(registry.dirs).toEqual([BUILTIN_IGLU_DIR]);
  });
});

describe('IgluRegistry.validate', () => {
  const registry = loadIgluRegistry(FIXTURE_IGLU_DIR);

  it('accepts valid billable usage and custom events', () => {
    expect(registry.validate(BILLABLE_USAGE, billableUsage())).toEqual([]);
    expect(registry.validate(CUSTOM_EVENT, { name: 'signup', props: { plan: 'free' } })).toEqual([]);
    expect(registry.validate(CUSTOM_EVENT, { name: 'signup', props: null })).toEqual([]);
  });

  it('reports an enum failure with its path, allowed values and the value sent', () => {
    expect(registry.validate(BILLABLE_USAGE, billableUsage({ realm: 'Moon' }))).toEqual([
      {
        schema: BILLABLE_USAGE,
        path: '/realm',
        keyword: 'enum',
        params: { allowedValues: ['SaaS', 'Dedicated', 'SM'] },
        message: '/realm must be equal to one of the allowed values: "SaaS", "Dedicated", "SM" (got "Moon")',
      },
    ]);
  });

  it('checks formats (uuid, date-time) and numeric bounds', () => {
    const errors = registry.validate(
      BILLABLE_USAGE,
      billableUsage({ event_id: 'not-a-uuid', timestamp: 'yesterday', quantity: 0 }),
    );
    expect(errors.map((error) => [error.path, error.keyword])).toEqual([
      ['/event_id', 'format'],
      ['/quantity', 'exclusiveMinimum'],
      ['/timestamp', 'format'],
    ]);
    expect(errors[1].message).toBe('/quantity must be > 0 (got 0)');
  });

  it('reports every missing required field and unknown key', () => {
    const errors = registry.validate(BILLABLE_USAGE, { realm: 'SM', extra: true });
    expect(errors.filter((error) => error.keyword === 'required').map((error) => error.params.missingProperty)).toEqual(
      ['event_id', 'event_type', 'unit_of_measure', 'quantity', 'timestamp'],
    );
    expect(errors).toContainEqual(
      expect.objectContaining({
        keyword: 'additionalProperties',
        message: '(root) must NOT have additional properties: "extra"',
      }),
    );
  });

  it('answers an unknown or malformed URI with an error instead of throwing', () => {
    expect(registry.validate('iglu:com.acme/nope/jsonschema/1-0-0', {})).toEqual([
      expect.objectContaining({
        keyword: 'iglu:unknown-schema',
        schema: 'iglu:com.acme/nope/jsonschema/1-0-0',
        path: '',
      }),
    ]);
    expect(registry.validate('iglu:com.acme/nope/jsonschema/1-0-0', {})[0].message).toMatch(
      /^unknown schema iglu:com\.acme\/nope/,
    );
    expect(registry.validate('http://example.com/schema', {})).toEqual([
      expect.objectContaining({ keyword: 'iglu:invalid-uri' }),
    ]);
  });

  it('compiles the Iglu meta-schema, which checks the self block of a schema file', () => {
    const file = JSON.parse(
      fs.readFileSync(path.join(FIXTURE_IGLU_DIR, 'schemas/com.gitlab/billable_usage/jsonschema/1-0-2'), 'utf8'),
    );
    expect(registry.validate(SELF_DESC, file)).toEqual([]);
    const errors = registry.validate(SELF_DESC, { ...file, self: { ...file.self, version: '1.0.2' } });
    expect(errors).toEqual([expect.objectContaining({ path: '/self/version', keyword: 'pattern' })]);
  });

  it('validates payload_data: only documented keys, string values, tv/p/e required', () => {
    expect(registry.validate(PAYLOAD_DATA, [{ e: 'pv', p: 'web', tv: 'js-3' }])).toEqual([]);
    const errors = registry.validate(PAYLOAD_DATA, [{ e: 'pv', p: 'web', se_va: 3, foo: 'x' }]);
    expect(errors.map((error) => `${error.path} ${error.keyword}`)).toEqual([
      '/0 required',
      '/0 additionalProperties',
      '/0/se_va type',
    ]);
  });
});

describe('loadIgluRegistry with several directories', () => {
  const signup = igluSchema('com.acme', 'signup', '1-0-0', {
    type: 'object',
    properties: { plan: { enum: ['free', 'pro'] }, seats: { type: 'integer', minimum: 1, exclusiveMinimum: true } },
    required: ['plan'],
    additionalProperties: false,
  });

  it('adds the schemas of later directories', () => {
    const registry = loadIgluRegistry([FIXTURE_IGLU_DIR, makeRegistry({ 'com.acme/signup/jsonschema/1-0-0': signup })]);
    expect(registry.has('iglu:com.acme/signup/jsonschema/1-0-0')).toBe(true);
    expect(registry.has(BILLABLE_USAGE)).toBe(true);
    expect(registry.validate('iglu:com.acme/signup/jsonschema/1-0-0', { plan: 'pro', seats: 2 })).toEqual([]);
  });

  it('maps draft-04 boolean exclusiveMinimum to its numeric meaning', () => {
    const registry = loadIgluRegistry(makeRegistry({ 'com.acme/signup/jsonschema/1-0-0': signup }));
    const errors = registry.validate('iglu:com.acme/signup/jsonschema/1-0-0', { plan: 'pro', seats: 1 });
    expect(errors).toEqual([expect.objectContaining({ path: '/seats', message: '/seats must be > 1 (got 1)' })]);
  });

  it('lets a later directory override a schema of an earlier one', () => {
    const looser = igluSchema('com.gitlab', 'billable_usage', '1-0-2', { type: 'object' });
    const registry = loadIgluRegistry([
      FIXTURE_IGLU_DIR,
      makeRegistry({ 'com.gitlab/billable_usage/jsonschema/1-0-2': looser }),
    ]);
    expect(registry.validate(BILLABLE_USAGE, { realm: 'Moon' })).toEqual([]);
  });

  it('accepts the schemas/ folder itself as the directory', () => {
    const root = makeRegistry({ 'com.acme/signup/jsonschema/1-0-0': signup });
    expect(loadIgluRegistry(path.join(root, 'schemas')).uris()).toEqual(['iglu:com.acme/signup/jsonschema/1-0-0']);
  });

  it('throws one IgluRegistryError naming every broken file', () => {
    const root = makeRegistry({
      'com.acme/broken/jsonschema/1-0-0': '{ not json',
      'com.acme/moved/jsonschema/1-0-0': igluSchema('com.acme', 'other', '1-0-0', { type: 'object' }),
      'com.acme/bad_version/jsonschema/1.0.0': igluSchema('com.acme', 'bad_version', '1.0.0', {}),
      'com.acme/uncompilable/jsonschema/1-0-0': igluSchema('com.acme', 'uncompilable', '1-0-0', {
        type: 'no-such-type',
      }),
      'com.acme/too_shallow/jsonschema': '{}',
    });
    let caught: unknown;
    try {
      loadIgluRegistry(root);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(IgluRegistryError);
    const problems = (caught as IgluRegistryError).problems.join('\n');
    expect(problems).toMatch(/broken\/jsonschema\/1-0-0: not valid JSON/);
    expect(problems).toMatch(
      /moved\/jsonschema\/1-0-0: "self" block disagrees with the file path on name \("other" vs "moved"\)/,
    );
    expect(problems).toMatch(/1\.0\.0: version "1\.0\.0" is not MODEL-REVISION-ADDITION/);
    expect(problems).toMatch(/uncompilable\/jsonschema\/1-0-0: does not compile/);
    expect(problems).toMatch(/too_shallow\/jsonschema: expected schemas\/VENDOR\/NAME\/FORMAT\/VERSION/);
    expect((caught as IgluRegistryError).problems).toHaveLength(5);
  });

  it('reports a directory that does not exist', () => {
    expect(() => loadIgluRegistry('/no/such/iglu')).toThrow('/no/such/iglu: not a directory');
  });
});

describe('parseIgluUri', () => {
  it('splits a URI and rejects other text', () => {
    expect(parseIgluUri(BILLABLE_USAGE)).toEqual({
      vendor: 'com.gitlab',
      name: 'billable_usage',
      format: 'jsonschema',
      version: '1-0-2',
    });
    expect(parseIgluUri('iglu:com.gitlab/billable_usage/jsonschema/1-0')).toBeUndefined();
  });
});

describe('base64 decoding', () => {
  const value = { schema: 'iglu:a/b/jsonschema/1-0-0', data: { text: 'éè?>~~~~' } };

  it('accepts standard and URL-safe alphabets, padded or not', () => {
    const standard = base64Json(value);
    expect(standard).toMatch(/[+/]/);
    expect(standard).toMatch(/=$/);
    const urlSafe = base64UrlJson(value);
    expect(urlSafe).toMatch(/[-_]/);
    for (const text of [standard, standard.replace(/=+$/, ''), urlSafe, `${urlSafe}==`]) {
      expect(decodeBase64Json(text)).toEqual({ ok: true, value });
    }
  });

  it('names what is wrong with malformed input', () => {
    expect(decodeBase64Text('')).toEqual({ ok: false, message: 'is empty' });
    expect(decodeBase64Text('eyJh!')).toEqual({ ok: false, message: 'is not base64: unexpected "!" at position 4' });
    expect(decodeBase64Text('eyJhI')).toEqual({
      ok: false,
      message: 'is not base64: 5 characters cannot encode whole bytes',
    });
    expect(decodeBase64Text('eyJ=')).toEqual({ ok: true, value: '{"' });
    expect(decodeBase64Text('eyJhIg=')).toEqual({
      ok: false,
      message: 'is not base64: padding does not complete a 4-character group',
    });
    expect(decodeBase64Text('eyJh=x==')).toEqual({ ok: false, message: 'is not base64: unexpected "=" at position 4' });
    expect(decodeBase64Text('//79')).toEqual({ ok: false, message: 'decodes from base64 to bytes that are not UTF-8' });
    expect(decodeBase64Json(Buffer.from('{nope').toString('base64'))).toEqual({
      ok: false,
      message: expect.stringMatching(/^decodes from base64 to text that is not JSON \(/),
    });
  });
});

describe('decodePayloadBody', () => {
  const registry = loadIgluRegistry(FIXTURE_IGLU_DIR);
  const receivedAt = new Date('2025-01-02T03:04:05.000Z');

  it('decodes a custom_event and a billing se event', () => {
    const ue = customEventItem('signup', { plan: 'pro', seats: 3 });
    const se = billingItem();
    const { good, bad } = decodePayloadBody(payloadBody(ue, se), { registry, receivedAt });
    expect(bad).toEqual([]);
    expect(good).toEqual([
      {
        eid: ue.eid,
        eventType: 'ue',
        name: 'signup',
        schema: CUSTOM_EVENT,
        data: { name: 'signup', props: { plan: 'pro', seats: 3 } },
        props: { plan: 'pro', seats: 3 },
        contexts: [],
        raw: ue,
        receivedAt: '2025-01-02T03:04:05.000Z',
      },
      {
        eid: se.eid,
        eventType: 'se',
        name: 'usage_recorded',
        contexts: [{ schema: BILLABLE_USAGE, data: billableUsage() }],
        raw: se,
        receivedAt: '2025-01-02T03:04:05.000Z',
      },
    ]);
  });

  it('takes plain JSON in ue_pr and co', () => {
    const item = {
      e: 'ue',
      p: 'srv',
      tv: 't',
      ue_pr: JSON.stringify(unstruct(CUSTOM_EVENT, { name: 'plain' })),
      co: JSON.stringify(contexts({ schema: BILLABLE_USAGE, data: billableUsage() })),
    };
    const [event] = decodePayloadBody(payloadBody(item), { registry }).good;
    expect(event).toMatchObject({ name: 'plain', schema: CUSTOM_EVENT, contexts: [{ schema: BILLABLE_USAGE }] });
    expect(event.props).toBeUndefined();
  });

  it('names other self-describing events after their schema and other types after Snowplow', () => {
    const acme = makeRegistry({
      'com.acme/button_click/jsonschema/1-0-0': igluSchema('com.acme', 'button_click', '1-0-0', { type: 'object' }),
    });
    const item = {
      e: 'ue',
      p: 'web',
      tv: 't',
      ue_px: base64Json(unstruct('iglu:com.acme/button_click/jsonschema/1-0-0', { id: 1 })),
    };
    const options = { registry: loadIgluRegistry([FIXTURE_IGLU_DIR, acme]) };
    expect(
      decodePayloadBody(payloadBody(item, { e: 'pv', p: 'web', tv: 't' }), options).good.map((event) => event.name),
    ).toEqual(['button_click', 'page_view']);
  });

  it('uses the built-in registry by default', () => {
    expect(decodePayloadBody(payloadBody(customEventItem('x', null))).good).toHaveLength(1);
  });

  it.each([
    ['a non-object body', [], '', 'body must be a JSON object {schema, data}, got an array'],
    [
      'a wrong envelope schema',
      { schema: CONTEXTS, data: [] },
      '/schema',
      `body schema must be iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-*, got string "${CONTEXTS}"`,
    ],
    [
      'an unknown payload_data version',
      { schema: 'iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-3', data: [{}] },
      '/schema',
      'unknown schema iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-3 (payload_data version not in the registry)',
    ],
    [
      'data that is not an array',
      { schema: PAYLOAD_DATA, data: {} },
      '/data',
      'body data must be an array of events, got an object',
    ],
    [
      'empty data',
      { schema: PAYLOAD_DATA, data: [] },
      '/data',
      'body data is empty: payload_data needs at least one event',
    ],
  ])('rejects %s as one bad record for the whole body', (_label, body, errorPath, message) => {
    const { good, bad } = decodePayloadBody(body, { registry });
    expect(good).toEqual([]);
    expect(bad).toEqual([
      {
        raw: body,
        errors: [expect.objectContaining({ field: 'body', path: errorPath, message })],
        receivedAt: expect.any(String),
      },
    ]);
  });

  it('keeps good events of a batch when others are bad', () => {
    const { good, bad } = decodePayloadBody(payloadBody(customEventItem('ok', null), 'not an event', null), {
      registry,
    });
    expect(good).toHaveLength(1);
    expect(bad.map((event) => event.errors[0].message)).toEqual([
      'an event must be a JSON object of string values, got string "not an event"',
      'an event must be a JSON object of string values, got null',
    ]);
  });
});

describe('decodeEvent reasons', () => {
  const registry = loadIgluRegistry(FIXTURE_IGLU_DIR);
  const errorsOf = (item: unknown) => {
    const result = decodeEvent(item, { registry });
    if (result.ok) throw new Error('expected a bad event');
    return result.event.errors;
  };

  it('names a non-string value by its key', () => {
    expect(errorsOf({ ...billingItem(), se_va: 12.5 })).toEqual([
      { field: 'se_va', schema: PAYLOAD_DATA, path: '/se_va', message: 'se_va must be a string, got number 12.5' },
    ]);
  });

  it('names an unknown key and a missing required key', () => {
    const { tv: _tv, ...withoutTv } = customEventItem('x', null);
    expect(errorsOf({ ...withoutTv, foo: 'bar' })).toEqual([
      { field: 'tv', schema: PAYLOAD_DATA, path: '/tv', message: 'tv is required' },
      {
        field: 'foo',
        schema: PAYLOAD_DATA,
        path: '/foo',
        message: 'unknown key "foo": payload_data 1-0-4 does not allow it',
      },
    ]);
  });

  it('checks the values enrich parses', () => {
    const item = { ...billingItem(), e: 'se', p: 'desktop', eid: '123', dtm: '2025-01-01', se_va: 'twelve', se_ac: '' };
    expect(errorsOf(item).map((error) => error.field)).toEqual(['p', 'eid', 'dtm', 'se_va', 'se_ac']);
    expect(errorsOf({ ...item, e: 'xx' })[0]).toEqual({
      field: 'e',
      message: 'e "xx": unknown event type; one of pv, pp, se, ev, ue, tr, ti, ad',
    });
  });

  it('needs ue_px or ue_pr on a ue event, and not both', () => {
    expect(errorsOf({ e: 'ue', p: 'srv', tv: 't' })).toEqual([
      { field: 'ue_px', message: 'a self-describing (ue) event needs ue_px or ue_pr' },
    ]);
    const item = customEventItem('x', null);
    expect(errorsOf({ ...item, ue_pr: '{}' })).toEqual([
      { field: 'ue_pr', message: 'both ue_px and ue_pr are set: send only one' },
    ]);
  });

  it('names an unknown schema in ue_px', () => {
    const item = {
      ...customEventItem('x', null),
      ue_px: base64Json(unstruct('iglu:com.acme/nope/jsonschema/1-0-0', {})),
    };
    expect(errorsOf(item)).toEqual([
      {
        field: 'ue_px',
        schema: 'iglu:com.acme/nope/jsonschema/1-0-0',
        path: '/data/schema',
        message: expect.stringMatching(
          /^ue_px event: unknown schema iglu:com\.acme\/nope\/jsonschema\/1-0-0 \(not in /,
        ),
      },
    ]);
  });

  it('names a billing realm outside the enum with the full path into cx', () => {
    expect(errorsOf(billingItem(billableUsage({ realm: 'Moon' })))).toEqual([
      {
        field: 'cx',
        schema: BILLABLE_USAGE,
        path: '/data/0/data/realm',
        message: `cx context 0 ${BILLABLE_USAGE}: /realm must be equal to one of the allowed values: "SaaS", "Dedicated", "SM" (got "Moon")`,
      },
    ]);
  });

  it('names malformed base64 and base64 that is not JSON', () => {
    expect(errorsOf({ ...customEventItem('x', null), ue_px: 'eyJ%%' })).toEqual([
      { field: 'ue_px', message: 'ue_px is not base64: unexpected "%" at position 3' },
    ]);
    expect(errorsOf({ ...billingItem(), cx: Buffer.from('{"schema":').toString('base64') })).toEqual([
      { field: 'cx', message: expect.stringMatching(/^cx decodes from base64 to text that is not JSON \(/) },
    ]);
    expect(errorsOf({ ...billingItem(), cx: undefined, co: '{oops' })).toEqual([
      { field: 'co', message: expect.stringMatching(/^co is not JSON \(/) },
    ]);
  });

  it('requires the unstruct_event and contexts wrappers', () => {
    const bare = { ...customEventItem('x', null), ue_px: base64Json({ schema: CUSTOM_EVENT, data: { name: 'x' } }) };
    expect(errorsOf(bare)).toEqual([
      {
        field: 'ue_px',
        schema: CUSTOM_EVENT,
        path: '/schema',
        message: `ue_px must be wrapped in iglu:com.snowplowanalytics.snowplow/unstruct_event/jsonschema/1-0-*, got ${CUSTOM_EVENT}`,
      },
    ]);
    const notSelfDescribing = { ...billingItem(), cx: base64Json([billableUsage()]) };
    expect(errorsOf(notSelfDescribing)[0]).toMatchObject({
      field: 'cx',
      message: expect.stringMatching(/^cx must be a self-describing JSON/),
    });
  });

  it('validates the custom_event data itself', () => {
    const item = { ...customEventItem('x', null), ue_px: base64Json(unstruct(CUSTOM_EVENT, { name: '', props: 'p' })) };
    expect(errorsOf(item).map((error) => error.path)).toEqual(['/data/data/name', '/data/data/props']);
  });
});

describe('ajv and ajv-formats are optional peers', () => {
  it.each(['ajv', 'ajv-formats'])('without %s, loading a registry says which package to install', (missing) => {
    jest.isolateModules(() => {
      jest.doMock(missing, () => {
        throw Object.assign(new Error(`Cannot find module '${missing}'`), { code: 'MODULE_NOT_FOUND' });
      });
      const testing = require('../../lib/testing') as typeof import('../../lib/testing');
      const core = require('../../lib/core') as typeof import('../../lib/core');
      let thrown: unknown;
      try {
        testing.loadIgluRegistry(FIXTURE_IGLU_DIR);
      } catch (err) {
        thrown = err;
      }
      expect(thrown).toBeInstanceOf(core.MissingDependencyError);
      expect((thrown as Error).message).toBe(
        `nestjs-snowplow/testing (schema validation) needs the package "${missing}", which is not installed: ` +
          'run `npm install -D ajv@8 ajv-formats@3`',
      );
    });
    jest.dontMock(missing);
  });
});
