// Every public object that holds a credential (a collector URL with a password, a token source)
// prints neither the password nor the token, whichever way a log line or an error report prints
// it. Token sources on their own are covered by test/auth/secrets.spec.ts.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import axios from 'axios';
import {
  Emitter,
  EmitterService,
  InvalidCollectorUrlError,
  SendResult,
  SnowplowModule,
  StaticTokenSource,
  Tracker,
  TrackerService,
} from '../lib';
import { redactText, redactUrl, redactUrlsIn } from '../lib/utils/redact-url';
import { createApp } from './support/nest';
import { quietLogger } from './support/emitter-harness';
import { LocalCollector, startLocalCollector } from '../lib/testing/local-collector';
import { waitFor } from './support/wait-for';

const PASSWORD = 'pw-7c1e9a2b44';
const TOKEN = 'tok-5d2f8b0e61c3';
const deep = { showHidden: true, depth: Infinity } as const;

function printed(value: unknown): Record<string, string> {
  return {
    'JSON.stringify': JSON.stringify(value) ?? '',
    'util.inspect showHidden': inspect(value, deep),
    'util.inspect customInspect: false': inspect(value, { ...deep, customInspect: false }),
    String: String(value),
    'nested util.inspect': inspect({ nested: { value } }, deep),
  };
}

function expectNoSecret(name: string, value: unknown): void {
  for (const [how, text] of Object.entries(printed(value))) {
    for (const secret of [
      PASSWORD,
      encodeURIComponent(PASSWORD),
      TOKEN,
      Buffer.from(`user:${PASSWORD}`).toString('base64'),
    ]) {
      if (text.includes(secret)) throw new Error(`${how} of ${name} shows a secret:\n${text.slice(0, 2_000)}`);
    }
  }
}

describe('objects holding credentials never print them', () => {
  let collector: LocalCollector;
  beforeEach(async () => {
    collector = await startLocalCollector();
  });
  afterEach(() => collector.close());

  it('an Emitter and a Tracker with a password in collectorUrl, their options, stats and callback results, before and after sending', async () => {
    collector.behaviour = (request) => (request.headers.authorization ? { status: 200 } : { status: 401 });
    const url = collector.endpoint.replace('http://', `http://user:${encodeURIComponent(PASSWORD)}@`);
    const results: SendResult[] = [];
    const emitter = new Emitter({
      collectorUrl: url,
      logger: quietLogger,
      callback: (s, f) => void results.push(...s, ...f),
    });
    const tracker = new Tracker({ appId: 'secrets', emitter });
    const objects = { emitter, tracker, options: emitter.options, stats: emitter.stats() };
    for (const [name, value] of Object.entries(objects)) expectNoSecret(name, value);
    emitter.start();
    tracker.trackEvent('with_password');
    await collector.waitForEvents(1);
    expect(collector.requests[0].headers.authorization).toBe(
      `Basic ${Buffer.from(`user:${PASSWORD}`).toString('base64')}`,
    );
    await waitFor(() => results.length > 0, { what: 'the callback' });
    for (const [name, value] of Object.entries({ ...objects, results, stats: emitter.stats() }))
      expectNoSecret(name, value);
    expect(emitter.collectorUrl).toContain('//***:***@');
    await emitter.stop();
  });

  it("errors of a refused request do not carry the URL's password", async () => {
    await collector.close();
    const url = collector.endpoint.replace('http://', `http://user:${PASSWORD}@`);
    const failures: SendResult[] = [];
    const emitter = new Emitter({
      collectorUrl: url,
      logger: quietLogger,
      callback: (_s, f) => void failures.push(...f),
    });
    emitter.start();
    new Tracker({ appId: 'secrets', emitter }).trackEvent('refused');
    await waitFor(() => failures.length > 0, { what: 'a failed attempt' });
    expectNoSecret('the failure', failures);
    expectNoSecret('the failure error', failures[0].error);
    expectNoSecret('stats().lastError', emitter.stats().lastError);
    await emitter.stop();
    await collector.reopen();
  });

  it('an Emitter with a token source, and the Nest EmitterService and TrackerService', async () => {
    const tokenSource = new StaticTokenSource(TOKEN);
    const emitter = new Emitter({ collectorUrl: collector.endpoint, tokenSource, logger: quietLogger });
    emitter.start();
    new Tracker({ appId: 'secrets', emitter }).trackEvent('with_token');
    await collector.waitForEvents(1);
    expect(collector.requests[0].headers.authorization).toBe(`Bearer ${TOKEN}`);
    expectNoSecret('emitter', emitter);
    expectNoSecret('emitter.options', emitter.options);
    await emitter.stop();

    const app = await createApp({
      imports: [
        SnowplowModule.forRoot({ collectorUrl: collector.endpoint, appId: 'secrets', tokenSource, metrics: false }),
      ],
    });
    app.get(TrackerService).trackEvent('nest_with_token');
    await collector.waitForEvents(2);
    expectNoSecret('EmitterService', app.get(EmitterService));
    expectNoSecret('TrackerService', app.get(TrackerService));
    await app.close();
  });
});

describe('a user name alone, a query key and a redirect Location print nowhere', () => {
  const USER = 'APIKEY-4f9a1c7e';
  const QUERY = 'qk-3b9d2f60e1';
  const LOCATION_USER = 'locuser-5d2a8e';
  const LOCATION_SECRET = 'loc-8e4a1c77b2';
  const secrets = {
    'the user name': USER,
    'the Basic credentials of the user name': Buffer.from(`${USER}:`).toString('base64'),
    'the query value': QUERY,
    "the Location's user name": LOCATION_USER,
    "the Location's query value": LOCATION_SECRET,
  };
  let collector: LocalCollector;
  let dir: string;
  beforeEach(async () => {
    collector = await startLocalCollector();
    dir = mkdtempSync(join(tmpdir(), 'secrets-'));
  });
  afterEach(async () => {
    await collector.close();
    rmSync(dir, { recursive: true, force: true });
  });

  function expectNone(name: string, text: string): void {
    for (const [what, secret] of Object.entries(secrets)) {
      if (text.includes(secret)) throw new Error(`${name} shows ${what}:\n${text.slice(0, 2_000)}`);
    }
  }

  it('in logs, toJSON, inspect, stats(), callback errors and dead-letter lines, across a redirect, a 5xx, a 404 and a failing HTTP client', async () => {
    const url = new URL(collector.endpoint);
    url.username = USER;
    url.search = `?api_key=${QUERY}`;
    const location = `http://${LOCATION_USER}@elsewhere.example/tp2?token=${LOCATION_SECRET}#sig=${LOCATION_SECRET}`;
    const replies = [
      { status: 302, headers: { Location: location } },
      { status: 500 },
      { status: 404 },
      { status: 302, headers: { Location: `/tp2?token=${LOCATION_SECRET}` } },
    ];
    collector.behaviour = (_request, index) => replies[index] ?? { status: 200 };
    // An app's HTTP client whose own error repeats the URL it was given (the fifth request).
    const http = axios.create();
    let requests = 0;
    http.interceptors.request.use((config) => {
      if (++requests === 5) throw new Error(`proxy refused ${config.url} for ${USER}`);
      return config;
    });
    const lines: string[] = [];
    const logger = {
      log: (m: string) => void lines.push(m),
      warn: (m: string) => void lines.push(m),
      error: (m: string) => void lines.push(m),
    };
    const failures: SendResult[] = [];
    const deadLetterPath = join(dir, 'dead-letters.jsonl');
    const emitter = new Emitter({
      collectorUrl: url.href,
      httpClient: http,
      logger,
      lingerMs: 0,
      maxAttempts: 5,
      backoff: { baseMs: 1, capMs: 5 },
      deadLetter: { path: deadLetterPath },
      callback: (_s, f) => void failures.push(...f),
    });
    const tracker = new Tracker({ appId: 'secrets', emitter });
    emitter.start();
    tracker.trackBillingEvent({ category: 'c', eventType: 'e', realm: 'SaaS', unitOfMeasure: 'u', quantity: 1 });
    await waitFor(() => existsSync(deadLetterPath) && readFileSync(deadLetterPath, 'utf8').includes('\n'), {
      what: 'the dead-letter line',
    });

    // The requests went out with the credentials and the query; only what is printed is masked.
    expect(collector.requests[0].url).toContain(`api_key=${QUERY}`);
    expect(collector.requests[0].headers.authorization).toBe(`Basic ${Buffer.from(`${USER}:`).toString('base64')}`);
    const log = lines.join('\n');
    expect(log).toContain('redirecting to http://***@elsewhere.example/tp2?token=***#sig=***');
    expect(log).toContain(
      `sending to http://***@127.0.0.1:${url.port}/com.snowplowanalytics.snowplow/tp2?api_key=*** failed`,
    );
    const [record] = readFileSync(deadLetterPath, 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { error: string });
    expect(record.error).toContain('proxy refused http://***@127.0.0.1');
    expect(record.error).toContain('?api_key=*** for ***');

    expectNone('the log', log);
    expectNone('the dead-letter file', readFileSync(deadLetterPath, 'utf8'));
    for (const [name, value] of Object.entries({
      emitter,
      tracker,
      options: emitter.options,
      stats: emitter.stats(),
      toJSON: emitter.toJSON(),
      failures,
      errors: failures.map((f) => f.error),
    }))
      for (const [how, text] of Object.entries(printed(value))) expectNone(`${how} of ${name}`, text);
    expect(emitter.stats().lastError).toContain('api_key=***');
    await emitter.stop();
  });

  it('an invalid collector URL holding credentials throws an error that shows none', () => {
    for (const bad of [`ftp://${USER}@h/tp2?api_key=${QUERY}`, `http://${USER}@[::1/tp2?api_key=${QUERY}`]) {
      let thrown: unknown;
      try {
        new Emitter({ collectorUrl: bad });
      } catch (err) {
        thrown = err;
      }
      expect(thrown).toBeInstanceOf(InvalidCollectorUrlError);
      for (const [how, text] of Object.entries(printed(thrown))) expectNone(`${how} of the error`, text);
    }
  });
});

describe('redactUrl and redactUrlsIn: what a printed URL keeps', () => {
  it.each([
    ['http://user:pw@h:9/p?a=1&b=2#c=3', 'http://***:***@h:9/p?a=***&b=***#c=***'],
    ['http://APIKEY@h/p', 'http://***@h/p'],
    ['http://:pw@h/p', 'http://:***@h/p'],
    ['https://h/p?bare&k=', 'https://h/p?***&k=***'],
    ['https://h/p', 'https://h/p'],
    ['/relative/p?k=v#f', '/relative/p?k=***#***'],
    ['//u@h/p?k=v', '//***@h/p?k=***'],
    ['relative', 'relative'],
  ])('%s shows as %s', (url, shown) => {
    expect(redactUrl(url)).toBe(shown);
  });

  it('masks every URL inside free text, and one the parser refuses as a whole', () => {
    expect(redactUrlsIn('GET http://k@a/x?t=1 then https://b/y, then http://u@[::1/z?t=2 and no URL')).toBe(
      'GET http://***@a/x?t=*** then https://b/y, then http://*** and no URL',
    );
  });

  it('masks loose credentials of 4 characters or more, the longest first, and leaves shorter ones to the URL masking', () => {
    expect(redactText('key abcd and abcdef, id ab', ['abcd', 'abcdef', 'ab'])).toBe('key *** and ***, id ab');
  });
});
