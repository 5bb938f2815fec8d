// Every token source, printed every way a log line or an error report prints an object, shows
// neither a token nor a client secret: before it has a token, and after it fetched and cached one.
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import {
  Emitter,
  FileTokenSource,
  OidcClientAuthMethod,
  OidcTokenSource,
  SendResult,
  StaticTokenSource,
  TokenSource,
  TokenSourceError,
  Tracker,
} from '../../lib/core';
import { startLocalCollector } from '../../lib/testing/local-collector';
import { waitFor } from '../support/wait-for';
import { EchoingTokenEndpoint } from './support/echoing-token-endpoint';
import { OidcTestProvider } from './support/oidc-test-provider';

const AUDIENCE = 'http://127.0.0.1:9090';
const deep = { showHidden: true, depth: Infinity } as const;

/** Every way the source may be printed: the three asked for, nested, and inspect without its custom hook. */
function printed(source: TokenSource): Record<string, string> {
  return {
    'JSON.stringify': JSON.stringify(source),
    'JSON.stringify nested': JSON.stringify({ nested: { source } }),
    'util.inspect showHidden': inspect(source, deep),
    'util.inspect showHidden nested': inspect({ nested: { source } }, deep),
    'util.inspect customInspect: false': inspect(source, { ...deep, customInspect: false }),
    String: String(source),
    template: `${source}`,
  };
}

/** Fails naming the output and the secret that leaked. */
function expectNoLeak(source: TokenSource, secrets: Record<string, string>): void {
  for (const [how, text] of Object.entries(printed(source))) {
    expect(typeof text).toBe('string');
    for (const [what, secret] of Object.entries(secrets)) {
      if (text.includes(secret)) throw new Error(`${how} of ${source.constructor.name} shows the ${what}:\n${text}`);
    }
  }
}

/** The token sent in the Authorization header: proof that the source has fetched and cached it. */
async function bearerToken(source: TokenSource): Promise<string> {
  const headers: Record<string, string> = {};
  await source.enhanceHeader(headers, AUDIENCE);
  const match = /^Bearer (\S+)$/.exec(headers.Authorization ?? '');
  if (!match) throw new Error('no bearer token was set');
  return match[1];
}

/** The token and its last segment (a JWT's signature), so a partly printed token is caught too. */
function tokenForms(token: string): Record<string, string> {
  return { token, 'end of the token': token.slice(-16) };
}

describe('token sources never print a secret', () => {
  it('StaticTokenSource', async () => {
    const token = 'static-token-9f8e7d6c5b4a';
    const source = new StaticTokenSource(token);
    expectNoLeak(source, tokenForms(token));
    expect(await bearerToken(source)).toBe(token);
    expectNoLeak(source, tokenForms(token));
    expect(String(source)).toBe('StaticTokenSource { token: *** }');
    expect(inspect(source, deep)).toBe('StaticTokenSource { token: *** }');
    expect(JSON.parse(JSON.stringify(source))).toEqual({ type: 'StaticTokenSource', token: '***' });
  });

  describe('FileTokenSource', () => {
    let dir: string;
    beforeEach(async () => {
      dir = await mkdtemp(join(tmpdir(), 'secrets-'));
    });
    afterEach(() => rm(dir, { recursive: true, force: true }));

    it('before and after it has read and cached the token', async () => {
      const file = join(dir, 'token');
      const token = 'file-token-1a2b3c4d5e6f.payload.signature-0f1e2d3c';
      await writeFile(file, `${token}\n`);
      const source = new FileTokenSource(file);
      expectNoLeak(source, tokenForms(token));
      expect(await bearerToken(source)).toBe(token);
      expectNoLeak(source, tokenForms(token));
      for (const text of Object.values(printed(source))) expect(text).toContain(JSON.stringify(file).slice(1, -1));
    });
  });

  describe('OidcTokenSource against a real OpenID provider', () => {
    let provider: OidcTestProvider;
    beforeAll(async () => {
      provider = await OidcTestProvider.start();
    });
    afterAll(() => provider.stop());

    it.each<[OidcClientAuthMethod, () => string]>([
      ['client_secret_basic', () => provider.clientId],
      ['client_secret_post', () => provider.postClientId],
    ])('with %s, before and after it has fetched and cached a token', async (clientAuthMethod, clientId) => {
      const secret = provider.clientSecret;
      const secrets = {
        'client secret': secret,
        'Basic credentials': Buffer.from(`${clientId()}:${secret}`).toString('base64'),
      };
      const source = new OidcTokenSource({
        issuer: provider.issuer,
        clientId: clientId(),
        clientSecret: secret,
        clientAuthMethod,
        allowInsecureHttp: true,
      });
      expectNoLeak(source, secrets);

      const issuedBefore = provider.issuedTokens;
      const token = await bearerToken(source);
      expect(provider.issuedTokens).toBe(issuedBefore + 1);
      await provider.verifyAccessToken(token, AUDIENCE);
      expect(await bearerToken(source)).toBe(token); // cached: no second request
      expect(provider.issuedTokens).toBe(issuedBefore + 1);
      expectNoLeak(source, { ...secrets, ...tokenForms(token) });
      expect(String(source)).toContain(clientId());
    });
  });
});

/** application/x-www-form-urlencoded as client_secret_basic writes the id and the secret (RFC 6749 2.3.1). */
function formUrlEncode(text: string): string {
  return encodeURIComponent(text)
    .replace(/[-_.!~*'()]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
    .replace(/%20/g, '+');
}

describe('an OpenID provider that echoes the client credentials in error_description', () => {
  const CLIENT_ID = 'snowplow-echo.client';
  const SECRET = "cs-echo_9f.8e~7d(6c)!5b 4a*3f'2e";
  const sentBasic = Buffer.from(`${formUrlEncode(CLIENT_ID)}:${formUrlEncode(SECRET)}`).toString('base64');
  /** Every form of the secret that must never print: plain, URL-encoded, and the base64 of the credentials. */
  const secrets: Record<string, string> = {
    'the secret': SECRET,
    'the secret, URL-encoded': encodeURIComponent(SECRET),
    'the secret, form-encoded': formUrlEncode(SECRET),
    'the secret, as a form body carries it': new URLSearchParams({ s: SECRET }).toString().slice(2),
    'the Basic credentials as sent': sentBasic,
    'the Basic credentials, unpadded': sentBasic.replace(/=+$/, ''),
    'the Basic credentials of the plain pair': Buffer.from(`${CLIENT_ID}:${SECRET}`).toString('base64'),
    'the Basic credentials, base64url': Buffer.from(`${formUrlEncode(CLIENT_ID)}:${formUrlEncode(SECRET)}`).toString(
      'base64url',
    ),
  };
  let provider: EchoingTokenEndpoint;
  beforeEach(async () => {
    provider = await EchoingTokenEndpoint.start();
  });
  afterEach(() => provider.stop());

  function expectNone(name: string, text: string): void {
    for (const [what, secret] of Object.entries(secrets)) {
      if (text.includes(secret)) throw new Error(`${name} shows ${what}:\n${text}`);
    }
  }

  function expectNoneIn(name: string, value: unknown): void {
    expectNone(`JSON.stringify of ${name}`, JSON.stringify(value) ?? '');
    expectNone(`util.inspect of ${name}`, inspect(value, deep));
    expectNone(`util.inspect customInspect: false of ${name}`, inspect(value, { ...deep, customInspect: false }));
    expectNone(`String of ${name}`, String(value));
  }

  function source(clientAuthMethod: OidcClientAuthMethod = 'client_secret_basic'): OidcTokenSource {
    return new OidcTokenSource({
      issuer: provider.issuer,
      clientId: CLIENT_ID,
      clientSecret: SECRET,
      clientAuthMethod,
      allowInsecureHttp: true,
    });
  }

  const decodedBasic = (seen: { authorization: string }) =>
    Buffer.from(seen.authorization.replace(/^Basic /, ''), 'base64').toString('utf8');

  it.each<[string, OidcClientAuthMethod, (seen: { authorization: string; body: string }) => string]>([
    ['the Authorization header', 'client_secret_basic', (seen) => `got ${seen.authorization}`],
    [
      'the base64 alone, unpadded',
      'client_secret_basic',
      (seen) => `got ${seen.authorization.slice(6).replace(/=+$/, '')}.`,
    ],
    ['the decoded credentials', 'client_secret_basic', (seen) => `got ${decodedBasic(seen)}`],
    [
      'the credentials decoded twice',
      'client_secret_basic',
      (seen) =>
        `got ${decodedBasic(seen)
          .split(':')
          .map((part) => decodeURIComponent(part.replace(/\+/g, ' ')))
          .join(':')}`,
    ],
    [
      'the credentials re-encoded as base64url',
      'client_secret_basic',
      (seen) => `got ${Buffer.from(decodedBasic(seen)).toString('base64url')}`,
    ],
    [
      'the credentials inside a longer base64 run',
      'client_secret_basic',
      (seen) => `got ${Buffer.from(`client=${decodedBasic(seen)};realm=x`).toString('base64')}`,
    ],
    ['the form body', 'client_secret_post', (seen) => `got ${seen.body}`],
  ])('%s: masked in the thrown error', async (_what, method, describe) => {
    provider.describe = describe;
    let thrown: unknown;
    try {
      await source(method).getToken('aud');
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(TokenSourceError);
    expect((thrown as TokenSourceError).message).toMatch(/HTTP 400 invalid_client \(got .*\*\*\*/);
    // The provider did get the credentials it echoes.
    const seen = provider.seen[0];
    if (method === 'client_secret_basic') expect(seen.authorization).toBe(`Basic ${sentBasic}`);
    else expect(seen.body).toContain(`client_secret=${new URLSearchParams({ s: SECRET }).toString().slice(2)}`);
    expectNoneIn('the error', thrown);
  });

  it('masked in the log, stats(), the callback errors and the dead-letter error field of an emitter using it', async () => {
    const collector = await startLocalCollector();
    const dir = await mkdtemp(join(tmpdir(), 'secrets-'));
    try {
      const lines: string[] = [];
      const logger = {
        log: (m: string) => void lines.push(m),
        warn: (m: string) => void lines.push(m),
        error: (m: string) => void lines.push(m),
      };
      const failures: SendResult[] = [];
      const deadLetterPath = join(dir, 'dead-letters.jsonl');
      const emitter = new Emitter({
        collectorUrl: collector.endpoint,
        tokenSource: source(),
        logger,
        lingerMs: 0,
        maxAttempts: 1,
        deadLetter: { path: deadLetterPath },
        callback: (_s, f) => void failures.push(...f),
      });
      emitter.start();
      new Tracker({ appId: 'secrets', emitter }).trackBillingEvent({
        category: 'c',
        eventType: 'e',
        realm: 'SaaS',
        unitOfMeasure: 'u',
        quantity: 1,
      });
      await waitFor(() => existsSync(deadLetterPath) && readFileSync(deadLetterPath, 'utf8').endsWith('\n'), {
        what: 'the dead-letter line',
      });
      const file = readFileSync(deadLetterPath, 'utf8');
      expect((JSON.parse(file) as { error: string }).error).toContain(
        'invalid_client (bad client credentials: Basic ***)',
      );
      expectNone('the dead-letter file', file);
      expectNone('the log', lines.join('\n'));
      expect(lines.join('\n')).toContain('invalid_client');
      expectNoneIn('stats()', emitter.stats());
      expectNoneIn('the callback failures', failures);
      expectNoneIn('the emitter', emitter);
      expect(collector.requests).toHaveLength(0);
      await emitter.stop();
    } finally {
      await collector.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
