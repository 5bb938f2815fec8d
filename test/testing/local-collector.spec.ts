import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { BadEvent, CollectorRecord, GoodEvent, LocalCollector, startLocalCollector } from '../../lib/testing';
import { BUILTIN_IGLU_DIR } from '../../lib/testing/builtin-registry';
import { DEFAULT_MAX_BODY_BYTES } from '../../lib/testing/local-collector';
import {
  base64Json,
  base64UrlJson,
  billableUsage,
  billingItem,
  BILLABLE_USAGE,
  contexts,
  CUSTOM_EVENT,
  customEventItem,
  FIXTURE_IGLU_DIR,
  PAYLOAD_DATA,
  payloadBody,
  postPayload,
  unstruct,
} from './support/snowplow-payloads';

const SIGNUP = 'iglu:com.acme/signup/jsonschema/1-0-0';

function makeUserRegistry(): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'user-iglu-'));
  const file = path.join(root, 'schemas/com.acme/signup/jsonschema/1-0-0');
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(
    file,
    JSON.stringify({
      $schema: 'http://iglucentral.com/schemas/com.snowplowanalytics.self-desc/schema/jsonschema/1-0-0#',
      self: { vendor: 'com.acme', name: 'signup', format: 'jsonschema', version: '1-0-0' },
      type: 'object',
      properties: { plan: { enum: ['free', 'pro'] } },
      required: ['plan'],
      additionalProperties: false,
    }),
  );
  return root;
}

/** A raw HTTP/1.1 request, for what fetch will not send (no Content-Type, odd methods). */
function rawRequest(
  url: string,
  method: string,
  body?: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }),
      );
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('startLocalCollector', () => {
  let collector: LocalCollector;
  let userDir: string;
  const records: CollectorRecord[] = [];

  beforeAll(async () => {
    userDir = makeUserRegistry();
    collector = await startLocalCollector({
      schemaDirs: [FIXTURE_IGLU_DIR, userDir],
      onEvent: (record) => records.push(record),
    });
  });

  afterAll(async () => {
    await collector.close();
    fs.rmSync(userDir, { recursive: true, force: true });
  });

  beforeEach(() => {
    collector.reset();
    records.length = 0;
  });

  /** Posts, waits until the collector recorded `count` events, and returns status and events. */
  async function post(body: unknown, count: number, contentType?: string) {
    const response = await postPayload(collector.endpoint, body, contentType);
    const text = await response.text();
    const { good, bad } = await collector.waitFor(count, { timeoutMs: 5000 });
    return { status: response.status, text, good, bad };
  }

  function onlyBad(bad: BadEvent[]): BadEvent {
    expect(bad).toHaveLength(1);
    return bad[0];
  }

  it('listens on 127.0.0.1 with a random port and exposes the tp2 endpoint', () => {
    expect(collector.url).toBe(`http://127.0.0.1:${collector.port}`);
    expect(collector.port).toBeGreaterThan(0);
    expect(collector.endpoint).toBe(`${collector.url}/com.snowplowanalytics.snowplow/tp2`);
    expect(collector.registry.dirs).toEqual([BUILTIN_IGLU_DIR, FIXTURE_IGLU_DIR, userDir]);
  });

  it('accepts a custom_event and a billing se event and decodes them', async () => {
    const ue = customEventItem('project_created', { visibility: 'private', template: null });
    const se = billingItem();
    const { status, text, good, bad } = await post(payloadBody(ue, se), 2);
    expect([status, text]).toEqual([200, 'ok']);
    expect(bad).toEqual([]);
    expect(good).toHaveLength(2);
    expect(good[0]).toEqual<GoodEvent>({
      eid: ue.eid as string,
      eventType: 'ue',
      name: 'project_created',
      schema: CUSTOM_EVENT,
      data: { name: 'project_created', props: { visibility: 'private', template: null } },
      props: { visibility: 'private', template: null },
      contexts: [],
      raw: ue as Record<string, string>,
      receivedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
    });
    expect(good[1]).toMatchObject({
      eid: se.eid,
      eventType: 'se',
      name: 'usage_recorded',
      contexts: [{ schema: BILLABLE_USAGE, data: billableUsage() }],
      raw: { se_ca: 'billing', se_ac: 'usage_recorded', se_la: 'ci_minutes', se_va: '12.5' },
    });
    expect(good[1].schema).toBeUndefined();
    expect(records.map((record) => record.kind)).toEqual(['good', 'good']);
  });

  it('accepts URL-safe unpadded base64 and a bare application/json content type', async () => {
    const item = {
      ...billingItem(),
      cx: base64UrlJson(contexts({ schema: BILLABLE_USAGE, data: billableUsage({ metadata: { note: '??>>' } }) })),
    };
    const { status, good } = await post(payloadBody(item), 1, 'application/json');
    expect(status).toBe(200);
    expect(good[0].contexts[0].data).toMatchObject({ metadata: { note: '??>>' } });
  });

  it('records a wrong content type as one bad request and answers 415', async () => {
    const body = JSON.stringify(payloadBody(customEventItem('x', null)));
    const { status, text, good, bad } = await post(body, 1, 'text/plain;charset=UTF-8');
    expect(status).toBe(415);
    expect(good).toEqual([]);
    expect(onlyBad(bad)).toEqual({
      raw: body,
      errors: [{ field: 'body', message: 'Content-Type must be application/json, got "text/plain;charset=UTF-8"' }],
      receivedAt: expect.any(String),
    });
    expect(JSON.parse(text)).toEqual({ errors: bad[0].errors });
  });

  it('records a missing content type and a non-UTF-8 charset', async () => {
    const response = await rawRequest(collector.endpoint, 'POST', '{}');
    expect(response.status).toBe(415);
    await postPayload(
      collector.endpoint,
      payloadBody(customEventItem('x', null)),
      'application/json; charset=iso-8859-1',
    );
    const { bad } = await collector.waitFor(2);
    expect(bad.map((event) => event.errors[0].message)).toEqual([
      'Content-Type is missing: send application/json; charset=utf-8',
      'Content-Type charset must be utf-8, got "iso-8859-1"',
    ]);
  });

  it('records a body that is not JSON and answers 400', async () => {
    const { status, bad } = await post('{"schema": "iglu:', 1);
    expect(status).toBe(400);
    expect(onlyBad(bad)).toMatchObject({
      raw: '{"schema": "iglu:',
      errors: [{ field: 'body', message: expect.stringMatching(/^body is not JSON \(/) }],
    });
  });

  it('records a wrong envelope schema and answers 400', async () => {
    const body = {
      schema: 'iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-1',
      data: [customEventItem('x', null)],
    };
    const { status, bad } = await post(body, 1);
    expect(status).toBe(400);
    expect(onlyBad(bad)).toMatchObject({ raw: body, errors: [{ field: 'body', path: '/schema' }] });
  });

  it('names a non-string field value', async () => {
    const { status, bad } = await post(payloadBody({ ...billingItem(), se_va: 12.5 }), 1);
    expect(status).toBe(200);
    expect(onlyBad(bad).errors).toEqual([
      { field: 'se_va', schema: PAYLOAD_DATA, path: '/se_va', message: 'se_va must be a string, got number 12.5' },
    ]);
  });

  it('names an unknown schema', async () => {
    const item = {
      ...customEventItem('x', null),
      ue_px: base64Json(unstruct('iglu:com.acme/unknown/jsonschema/1-0-0', {})),
    };
    const { bad } = await post(payloadBody(item), 1);
    expect(onlyBad(bad).errors).toEqual([
      expect.objectContaining({
        field: 'ue_px',
        schema: 'iglu:com.acme/unknown/jsonschema/1-0-0',
        message: expect.stringContaining('unknown schema iglu:com.acme/unknown/jsonschema/1-0-0'),
      }),
    ]);
  });

  it('names an invalid billing realm with the ajv path', async () => {
    const { bad } = await post(payloadBody(billingItem(billableUsage({ realm: 'OnPrem' }))), 1);
    expect(onlyBad(bad).errors).toEqual([
      {
        field: 'cx',
        schema: BILLABLE_USAGE,
        path: '/data/0/data/realm',
        message: `cx context 0 ${BILLABLE_USAGE}: /realm must be equal to one of the allowed values: "SaaS", "Dedicated", "SM" (got "OnPrem")`,
      },
    ]);
  });

  it('names malformed base64', async () => {
    const { bad } = await post(payloadBody({ ...customEventItem('x', null), ue_px: 'not base64!' }), 1);
    expect(onlyBad(bad).errors).toEqual([
      { field: 'ue_px', message: 'ue_px is not base64: unexpected " " at position 3' },
    ]);
  });

  it('names an unknown key in the payload item', async () => {
    const { bad } = await post(payloadBody({ ...customEventItem('x', null), user_id: '42' }), 1);
    expect(onlyBad(bad).errors).toEqual([
      {
        field: 'user_id',
        schema: PAYLOAD_DATA,
        path: '/user_id',
        message: 'unknown key "user_id": payload_data 1-0-4 does not allow it',
      },
    ]);
  });

  it('splits one batch into good and bad events', async () => {
    const { status, good, bad } = await post(payloadBody(customEventItem('a', null), 7, billingItem(), { e: 'pv' }), 4);
    expect(status).toBe(200);
    expect(good.map((event) => event.name)).toEqual(['a', 'usage_recorded']);
    expect(bad.map((event) => event.raw)).toEqual([7, { e: 'pv' }]);
  });

  it('validates against a user-added schema directory', async () => {
    const item = (data: unknown) => ({ ...customEventItem('x', null), ue_px: base64Json(unstruct(SIGNUP, data)) });
    const { good, bad } = await post(payloadBody(item({ plan: 'pro' }), item({ plan: 'gold' })), 2);
    expect(good).toEqual([expect.objectContaining({ name: 'signup', schema: SIGNUP, data: { plan: 'pro' } })]);
    expect(good[0].props).toBeUndefined();
    expect(onlyBad(bad).errors).toEqual([
      expect.objectContaining({ field: 'ue_px', schema: SIGNUP, path: '/data/data/plan' }),
    ]);
  });

  it('takes one event from a GET /i pixel and answers with a GIF', async () => {
    const item = customEventItem('pixel_view', { a: 1 }) as Record<string, string>;
    const query = new URLSearchParams({
      ...item,
      ue_px: base64UrlJson(unstruct(CUSTOM_EVENT, { name: 'pixel_view', props: { a: 1 } })),
    });
    const response = await fetch(`${collector.url}/i?${query}`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('image/gif');
    const gif = Buffer.from(await response.arrayBuffer());
    expect(gif.subarray(0, 6).toString('latin1')).toBe('GIF89a');
    const { good } = await collector.waitFor(1);
    expect(good[0]).toMatchObject({ eid: item.eid, name: 'pixel_view', props: { a: 1 } });
  });

  it('serves the pixel on /com.snowplowanalytics.snowplow/i too, and records bad pixels', async () => {
    await fetch(`${collector.url}/com.snowplowanalytics.snowplow/i?e=se&p=srv&tv=t&se_ca=c&se_ac=a`);
    await fetch(`${collector.url}/i?e=se&p=srv&tv=t&se_ca=c&se_ac=a&se_ac=b&tz=x`);
    const { good, bad } = await collector.waitFor(2);
    expect(good.map((event) => event.name)).toEqual(['a']);
    expect(onlyBad(bad).errors).toEqual([
      { field: 'se_ac', message: 'se_ac is given more than once in the query string' },
    ]);
  });

  it('answers a CORS preflight', async () => {
    const response = await fetch(collector.endpoint, {
      method: 'OPTIONS',
      headers: {
        Origin: 'http://app.test',
        'Access-Control-Request-Method': 'POST',
        'Access-Control-Request-Headers': 'content-type',
      },
    });
    expect(response.status).toBe(204);
    // Any origin may send events, without credentials (see viewer-server.spec.ts for /micro/*).
    expect(response.headers.get('access-control-allow-origin')).toBe('*');
    expect(response.headers.get('access-control-allow-credentials')).toBeNull();
    expect(response.headers.get('access-control-allow-methods')).toBe('POST, OPTIONS');
    expect(response.headers.get('access-control-allow-headers')).toBe('content-type');
    expect(collector.all().total).toBe(0);
  });

  it('serves /micro/all, /micro/good, /micro/bad and /micro/reset', async () => {
    await post(payloadBody(customEventItem('a', null), billingItem(), { e: 'pv' }), 3);
    const get = async (route: string, method = 'GET'): Promise<[number, unknown]> => {
      const response = await fetch(`${collector.url}${route}`, { method });
      expect(response.headers.get('content-type')).toBe('application/json; charset=utf-8');
      return [response.status, await response.json()];
    };
    expect(await get('/micro/all')).toEqual([200, { total: 3, good: 2, bad: 1, dropped: 0 }]);
    const [, good] = await get('/micro/good');
    expect(good).toEqual(JSON.parse(JSON.stringify(collector.good())));
    expect((good as GoodEvent[]).map((event) => event.name)).toEqual(['a', 'usage_recorded']);
    const [, bad] = await get('/micro/bad');
    expect(bad).toEqual([{ raw: { e: 'pv' }, errors: expect.any(Array), receivedAt: expect.any(String) }]);
    expect(await get('/micro/reset', 'POST')).toEqual([200, { total: 0, good: 0, bad: 0, dropped: 0 }]);
    expect(await get('/micro/all')).toEqual([200, { total: 0, good: 0, bad: 0, dropped: 0 }]);
    expect(collector.good()).toEqual([]);
  });

  it('answers 404 for an unknown route and 405 for a wrong method', async () => {
    expect((await fetch(`${collector.url}/nope`)).status).toBe(404);
    const wrong = await fetch(collector.endpoint);
    expect(wrong.status).toBe(405);
    expect(wrong.headers.get('allow')).toBe('POST, OPTIONS');
    expect((await fetch(`${collector.url}/health`)).status).toBe(200);
    expect(collector.all().total).toBe(0);
  });

  it('survives junk bodies and keeps answering', async () => {
    const junk = ['null', '[]', '"x"', '{"schema":null}', '{"__proto__":{"a":1}}', '\u0000\u0001'];
    for (const body of junk) expect((await postPayload(collector.endpoint, body)).status).toBe(400);
    await postPayload(collector.endpoint, { schema: PAYLOAD_DATA, data: [{ __proto__: 'x', toString: 1 }, [], null] });
    const { bad } = await collector.waitFor(junk.length + 3);
    expect(bad).toHaveLength(junk.length + 3);
    expect((await fetch(`${collector.url}/health`)).status).toBe(200);
  });

  it('waits on a predicate, and times out saying what arrived', async () => {
    const waiting = collector.waitFor(({ good }) => good.some((event) => event.name === 'late'), { timeoutMs: 5000 });
    await postPayload(collector.endpoint, payloadBody(customEventItem('early', null)));
    await postPayload(collector.endpoint, payloadBody(customEventItem('late', null)));
    expect((await waiting).good.map((event) => event.name)).toEqual(['early', 'late']);
    await expect(collector.waitFor(5, { timeoutMs: 50 })).rejects.toThrow(
      'waitFor timed out after 50 ms waiting for 5 event(s); received 2 good, 0 bad',
    );
  });

  it('keeps memory bounded: a body over the limit is dropped and answered 413', async () => {
    const huge = JSON.stringify(
      payloadBody({ ...customEventItem('x', null), se_la: 'x'.repeat(DEFAULT_MAX_BODY_BYTES) }),
    );
    const { status, bad } = await post(huge, 1);
    expect(status).toBe(413);
    expect(onlyBad(bad).errors[0].message).toBe(
      `body is ${Buffer.byteLength(huge)} bytes, over the 10485760-byte limit`,
    );
  });
});

describe('startLocalCollector defaults and lifecycle', () => {
  it('loads the built-in iglu/ registry when no schemaDirs are given', async () => {
    const collector = await startLocalCollector();
    try {
      expect(collector.registry.dirs).toEqual([BUILTIN_IGLU_DIR]);
      expect(collector.registry.has(BILLABLE_USAGE)).toBe(true);
      await postPayload(collector.endpoint, payloadBody(billingItem(), customEventItem('builtin', null)));
      const { good, bad } = await collector.waitFor(2);
      expect(bad).toEqual([]);
      expect(good.map((event) => event.name)).toEqual(['usage_recorded', 'builtin']);
    } finally {
      await collector.close();
    }
  });

  it('honours a smaller body limit', async () => {
    const collector = await startLocalCollector({ maxBodyBytes: 100 });
    try {
      const response = await postPayload(collector.endpoint, payloadBody(customEventItem('x', null)));
      expect(response.status).toBe(413);
      expect((await collector.waitFor(1)).bad).toHaveLength(1);
    } finally {
      await collector.close();
    }
  });

  it('fails to start on a broken schema dir, and on a port in use', async () => {
    await expect(startLocalCollector({ schemaDirs: ['/no/such/dir'] })).rejects.toThrow(
      '/no/such/dir: not a directory',
    );
    const first = await startLocalCollector();
    try {
      await expect(startLocalCollector({ port: first.port })).rejects.toThrow(/EADDRINUSE/);
    } finally {
      await first.close();
    }
  });

  it('closes cleanly: pending waits reject, the port stops answering, close is idempotent', async () => {
    const collector = await startLocalCollector();
    const pending = collector.waitFor(1, { timeoutMs: 5000 });
    await Promise.all([collector.close(), collector.close()]);
    await expect(pending).rejects.toThrow('the local collector was closed');
    await expect(fetch(`${collector.url}/health`)).rejects.toThrow();
  });
});
