import { createServer, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { inspect } from 'node:util';
import { decodeJwt } from 'jose';
import { InvalidOptionError, MissingDependencyError, OidcTokenSource, OidcTokenSourceOptions } from '../../lib/core';
import { loadOpenIdClient } from '../../lib/auth/openid-client-loader';
import { waitFor } from '../support/wait-for';
import { closedPort, COLLECTOR_SCOPE, OidcTestProvider } from './support/oidc-test-provider';
import { failure } from './support/token-source-failure';

const AUDIENCE = 'http://127.0.0.1:9090';

function bearer(headers: Record<string, string>): string {
  const match = /^Bearer (\S+)$/.exec(headers.Authorization ?? '');
  if (!match) throw new Error(`not a bearer header: ${headers.Authorization}`);
  return match[1];
}

async function headerToken(source: OidcTokenSource, audience = AUDIENCE): Promise<string> {
  const headers: Record<string, string> = {};
  await source.enhanceHeader(headers, audience);
  return bearer(headers);
}

describe('OidcTokenSource against a real OpenID provider', () => {
  let provider: OidcTestProvider;

  beforeEach(async () => {
    provider = await OidcTestProvider.start();
  });
  afterEach(async () => {
    await provider.stop();
  });

  function source(options: Partial<OidcTokenSourceOptions> = {}): OidcTokenSource {
    return new OidcTokenSource({
      issuer: provider.issuer,
      clientId: provider.clientId,
      clientSecret: provider.clientSecret,
      allowInsecureHttp: true,
      ...options,
    });
  }

  it('discovers the provider, gets a client-credentials JWT for the audience and sets Authorization: Bearer', async () => {
    const headers: Record<string, string> = { 'Content-Type': 'application/json' };
    await source().enhanceHeader(headers, AUDIENCE);

    expect(Object.keys(headers).sort()).toEqual(['Authorization', 'Content-Type']);
    const claims = await provider.verifyAccessToken(bearer(headers), AUDIENCE);
    expect(claims).toMatchObject({ iss: provider.issuer, aud: AUDIENCE, client_id: provider.clientId });
    expect(provider.paths[0]).toBe('/.well-known/openid-configuration');
    expect(provider.tokenRequests).toEqual([
      { status: 200, clientId: provider.clientId, audience: AUDIENCE, scope: undefined, error: undefined },
    ]);
  });

  it('passes the scope option and authenticates with client_secret_post when asked', async () => {
    const token = await headerToken(
      source({ clientId: provider.postClientId, clientAuthMethod: 'client_secret_post', scope: COLLECTOR_SCOPE }),
    );
    const claims = await provider.verifyAccessToken(token, AUDIENCE);
    expect(claims).toMatchObject({ client_id: provider.postClientId, scope: COLLECTOR_SCOPE });
    expect(provider.tokenRequests).toEqual([
      { status: 200, clientId: provider.postClientId, audience: AUDIENCE, scope: COLLECTOR_SCOPE, error: undefined },
    ]);
  });

  it('caches the token: many sequential and parallel calls make one discovery and one token request', async () => {
    const tokens = new Set<string>();
    const oidc = source();
    for (let i = 0; i < 50; i++) tokens.add(await headerToken(oidc));
    (await Promise.all(Array.from({ length: 50 }, () => headerToken(oidc)))).forEach((t) => tokens.add(t));

    expect(tokens.size).toBe(1);
    expect(provider.tokenRequests).toHaveLength(1);
    expect(provider.paths.filter((p) => p.startsWith('/.well-known/'))).toHaveLength(1);
  });

  it('shares one discovery and one token request among concurrent first calls', async () => {
    const oidc = source();
    const release = provider.holdTokenRequests();
    const calls = Array.from({ length: 20 }, () => headerToken(oidc));
    await waitFor(() => provider.heldTokenRequests === 1, {
      timeoutMs: 5_000,
      what: 'the token request to reach the provider',
    });
    calls.push(...Array.from({ length: 20 }, () => headerToken(oidc)));
    release();

    expect(new Set(await Promise.all(calls)).size).toBe(1);
    expect(provider.tokenRequests).toHaveLength(1);
    expect(provider.paths.filter((p) => p.startsWith('/.well-known/'))).toHaveLength(1);
  });

  it('makes exactly one token request for concurrent calls during a refresh', async () => {
    const oidc = source();
    const first = await headerToken(oidc);
    oidc.invalidate();
    const release = provider.holdTokenRequests();
    const calls: Array<Promise<string>> = [];
    for (let wave = 0; wave < 5; wave++) {
      calls.push(...Array.from({ length: 10 }, () => headerToken(oidc)));
      await new Promise((resolve) => setImmediate(resolve));
    }
    await waitFor(() => provider.heldTokenRequests === 1, {
      timeoutMs: 5_000,
      what: 'the refresh to reach the provider',
    });
    calls.push(...Array.from({ length: 10 }, () => headerToken(oidc)));
    expect(provider.heldTokenRequests).toBe(1);
    release();

    const tokens = new Set(await Promise.all(calls));
    expect(tokens.size).toBe(1);
    expect(tokens.has(first)).toBe(false);
    expect(provider.tokenRequests).toHaveLength(2);
  });

  /**
   * The clock the source reads lifetimes with, frozen; `advance` moves it. Restored after the test.
   * `Date.now()` is frozen and moved with it: openid-client's `expiresIn()` is the whole seconds left
   * by `Date.now()`, so a millisecond passing between the answer and that call (a loaded machine)
   * would read a 60 s token as 59 s.
   */
  function controlledClock() {
    const clock = (require('node:perf_hooks') as typeof import('node:perf_hooks')).performance;
    // A whole number, so that expiry arithmetic on it is exact (no float rounding at the boundary).
    const frozen = Math.round(clock.now());
    const frozenDate = Date.now();
    let offset = 0;
    const spy = jest.spyOn(clock, 'now').mockImplementation(() => frozen + offset);
    const dateSpy = jest.spyOn(Date, 'now').mockImplementation(() => frozenDate + offset);
    restoreClock = () => {
      spy.mockRestore();
      dateSpy.mockRestore();
    };
    return { advance: (ms: number) => void (offset += ms) };
  }
  let restoreClock: (() => void) | undefined;
  afterEach(() => {
    restoreClock?.();
    restoreClock = undefined;
  });

  it('refreshes the token refreshSkewMs before it expires, not earlier', async () => {
    provider.tokenTtlSeconds = 60;
    const clock = controlledClock();
    const oidc = source({ refreshSkewMs: 500 });
    const first = await headerToken(oidc);
    const firstClaims = await provider.verifyAccessToken(first, AUDIENCE);
    expect(firstClaims.exp! - firstClaims.iat!).toBe(60);

    clock.advance(60_000 - 500 - 1);
    expect(await headerToken(oidc)).toBe(first);
    expect(provider.tokenRequests).toHaveLength(1);
    clock.advance(1);
    const second = await headerToken(oidc);
    expect(second).not.toBe(first);
    await provider.verifyAccessToken(second, AUDIENCE);
    expect(provider.issuedTokens).toBe(2);
    expect(await headerToken(oidc)).toBe(second);
    expect(provider.tokenRequests).toHaveLength(2);
  });

  it('caps the skew at half the lifetime: a 60 s token with a 120 s skew is refreshed after 30 s', async () => {
    provider.tokenTtlSeconds = 60;
    const clock = controlledClock();
    const oidc = source({ refreshSkewMs: 120_000 });
    const first = await headerToken(oidc);
    clock.advance(30_000 - 1);
    expect(await headerToken(oidc)).toBe(first);
    clock.advance(1);
    expect(await headerToken(oidc)).not.toBe(first);
    expect(provider.tokenRequests).toHaveLength(2);
  });

  it('never lets the skew exceed half the lifetime, so short-lived tokens are still reused', async () => {
    provider.tokenTtlSeconds = 60;
    const oidc = source({ refreshSkewMs: 120_000 });
    const first = await headerToken(oidc);
    for (let i = 0; i < 10; i++) expect(await headerToken(oidc)).toBe(first);
    expect(provider.tokenRequests).toHaveLength(1);
  });

  it('invalidate() forces a new token on the next call', async () => {
    const oidc = source();
    const first = await headerToken(oidc);
    expect(await headerToken(oidc)).toBe(first);
    oidc.invalidate();
    const second = await headerToken(oidc);

    expect(second).not.toBe(first);
    await provider.verifyAccessToken(second, AUDIENCE);
    expect(provider.tokenRequests).toHaveLength(2);
    expect(await headerToken(oidc)).toBe(second);
  });

  it('caches one token per audience, and a fixed audience option wins over the argument', async () => {
    const oidc = source();
    const other = 'http://127.0.0.1:9191';
    const a = await headerToken(oidc, AUDIENCE);
    const b = await headerToken(oidc, other);
    expect(decodeJwt(a).aud).toBe(AUDIENCE);
    expect(decodeJwt(b).aud).toBe(other);
    expect(await headerToken(oidc, AUDIENCE)).toBe(a);
    expect(provider.tokenRequests.map((r) => r.audience)).toEqual([AUDIENCE, other]);

    const fixed = source({ audience: 'https://collector.example.com' });
    const token = await headerToken(fixed, AUDIENCE);
    expect(decodeJwt(token).aud).toBe('https://collector.example.com');
    expect(await headerToken(fixed, other)).toBe(token);
    expect(provider.tokenRequests.at(-1)!.audience).toBe('https://collector.example.com');
  });

  it('a wrong client secret gives a typed error that names the OAuth error, not the secret', async () => {
    const wrongSecret = `wrong-${provider.clientSecret}`;
    const error = await failure(headerToken(source({ clientSecret: wrongSecret })));

    expect(error.code).toBe('TOKEN_REQUEST_FAILED');
    expect(error.status).toBe(401);
    expect(error.oauthError).toBe('invalid_client');
    expect(error.message).toContain(`${provider.issuer}/token`);
    expect(error.message).toContain('invalid_client');
    for (const text of [error.message, error.stack ?? '', inspect(error), JSON.stringify(error)]) {
      expect(text).not.toContain(wrongSecret);
      expect(text).not.toContain(provider.clientSecret);
    }
    expect(provider.tokenRequests).toEqual([expect.objectContaining({ status: 401, error: 'invalid_client' })]);
  });

  it('an unknown client gives a typed invalid_client error', async () => {
    const error = await failure(headerToken(source({ clientId: 'nobody' })));
    expect(error).toMatchObject({ code: 'TOKEN_REQUEST_FAILED', oauthError: 'invalid_client' });
  });

  it('a provider that is down gives a typed discovery error, and works once it is up', async () => {
    const oidc = source();
    await provider.stop();
    const error = await failure(headerToken(oidc));
    expect(error.code).toBe('DISCOVERY_FAILED');
    expect(error.message).toContain(provider.issuer);
    expect(error.message).toContain('ECONNREFUSED');

    await provider.restart();
    await provider.verifyAccessToken(await headerToken(oidc), AUDIENCE);
  });

  it('a closed port gives a typed discovery error', async () => {
    const port = await closedPort();
    const oidc = new OidcTokenSource({
      issuer: `http://127.0.0.1:${port}`,
      clientId: 'c',
      clientSecret: 'super-secret',
      allowInsecureHttp: true,
    });
    const error = await failure(headerToken(oidc));
    expect(error.code).toBe('DISCOVERY_FAILED');
    expect(error.message).toMatch(
      new RegExp(`^OpenID discovery for issuer http://127\\.0\\.0\\.1:${port}/ failed: .*ECONNREFUSED`),
    );
    expect(error.message).not.toContain('super-secret');
  });

  it('a provider that goes down after discovery gives a typed token error, and a token once it is back', async () => {
    const oidc = source();
    const first = await headerToken(oidc);
    oidc.invalidate();
    await provider.stop();
    const error = await failure(headerToken(oidc));
    expect(error.code).toBe('TOKEN_REQUEST_FAILED');
    // Refused, or the keep-alive socket of the discovery request found closed by the stop.
    expect(error.message).toMatch(
      /^client-credentials token request to http:\/\/127\.0\.0\.1:\d+\/token failed: .*(ECONNREFUSED|UND_ERR_SOCKET|ECONNRESET)/,
    );
    expect(error.message).not.toContain(first);

    await provider.restart();
    const second = await headerToken(oidc);
    expect(second).not.toBe(first);
    await provider.verifyAccessToken(second, AUDIENCE);
  });

  it('keeps the secret and the token out of JSON.stringify, util.inspect and console output', async () => {
    const oidc = source({ scope: COLLECTOR_SCOPE });
    const token = await headerToken(oidc);
    const printed = [
      JSON.stringify(oidc),
      inspect(oidc),
      inspect(oidc, { showHidden: true, depth: 10 }),
      JSON.stringify({ nested: { oidc } }),
      String(Object.entries(oidc)),
    ];
    for (const text of printed) {
      expect(text).not.toContain(provider.clientSecret);
      expect(text).not.toContain(token);
    }
    expect(JSON.parse(JSON.stringify(oidc))).toEqual({
      type: 'OidcTokenSource',
      issuer: `${provider.issuer}/`,
      clientId: provider.clientId,
      scope: COLLECTOR_SCOPE,
      refreshSkewMs: 30_000,
    });
    expect(inspect(oidc)).toContain(provider.clientId);
  });
});

describe('OidcTokenSource error messages from a misbehaving provider', () => {
  const secret = 'p@ss word/with+chars';
  let server: Server | undefined;

  afterEach(async () => {
    server?.closeAllConnections();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    server = undefined;
  });

  /** Valid discovery; the token endpoint answers with `token(authorization header, form body)`. */
  async function serve(
    token: (authorization: string, body: string) => { status: number; json: unknown },
  ): Promise<string> {
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const issuer = `http://127.0.0.1:${(server!.address() as AddressInfo).port}`;
        const answer =
          req.url === '/.well-known/openid-configuration'
            ? { status: 200, json: { issuer, token_endpoint: `${issuer}/token`, jwks_uri: `${issuer}/jwks` } }
            : token(req.headers.authorization ?? '', Buffer.concat(chunks).toString('utf8'));
        res.writeHead(answer.status, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify(answer.json));
      });
    });
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  it('masks the client secret even when the provider echoes it back', async () => {
    const issuer = await serve((authorization, body) => ({
      status: 400,
      json: {
        error: 'invalid_request',
        error_description: `you sent ${Buffer.from(authorization.slice(6), 'base64').toString()} and ${decodeURIComponent(body)} ${encodeURIComponent(secret)}`,
      },
    }));
    const oidc = new OidcTokenSource({ issuer, clientId: 'me', clientSecret: secret, allowInsecureHttp: true });
    const error = await failure(oidc.getToken(AUDIENCE));
    expect(error).toMatchObject({ code: 'TOKEN_REQUEST_FAILED', status: 400, oauthError: 'invalid_request' });
    expect(error.message).toContain('you sent');
    expect(error.message).not.toContain(secret);
    expect(error.message).not.toContain(encodeURIComponent(secret));
    expect(error.message).not.toContain(encodeURIComponent(secret).replace(/%20/g, '+'));
  });

  it('refuses a token that is not a Bearer token, or not a valid header value, without printing it', async () => {
    let answer: unknown = { access_token: 'abc.def.ghi', token_type: 'DPoP', expires_in: 300 };
    const issuer = await serve(() => ({ status: 200, json: answer }));
    const oidc = new OidcTokenSource({ issuer, clientId: 'me', clientSecret: secret, allowInsecureHttp: true });
    const wrongType = await failure(oidc.getToken(AUDIENCE));
    expect(wrongType.code).toBe('INVALID_TOKEN_RESPONSE');
    expect(wrongType.message).toBe('the token endpoint issued a token of type "dpop", expected Bearer');
    expect(wrongType.message).not.toContain('abc.def.ghi');

    answer = { access_token: 'two words\r\nX-Injected: 1', token_type: 'Bearer', expires_in: 300 };
    const badValue = await failure(oidc.getToken(AUDIENCE));
    expect(badValue.code).toBe('INVALID_TOKEN_RESPONSE');
    expect(badValue.message).toBe(
      'the token endpoint issued an access token that is empty or not a valid header value',
    );
  });

  it('sends the audience of the call and none without one, and the client credentials the way it was told', async () => {
    const requests: Array<{ authorization: string; form: URLSearchParams }> = [];
    const issuer = await serve((authorization, body) => {
      requests.push({ authorization, form: new URLSearchParams(body) });
      return { status: 200, json: { access_token: `token-${requests.length}`, token_type: 'Bearer', expires_in: 300 } };
    });
    const basic = new OidcTokenSource({ issuer, clientId: 'me', clientSecret: secret, allowInsecureHttp: true });
    expect(await basic.getToken()).toBe('token-1');
    expect(await basic.getToken(AUDIENCE)).toBe('token-2');
    expect(await basic.getToken()).toBe('token-1'); // cached under no audience
    const post = new OidcTokenSource({
      issuer,
      clientId: 'me',
      clientSecret: secret,
      allowInsecureHttp: true,
      clientAuthMethod: 'client_secret_post',
    });
    expect(await post.getToken(AUDIENCE)).toBe('token-3');

    expect(requests.map((r) => Object.fromEntries(r.form))).toEqual([
      { grant_type: 'client_credentials' },
      { grant_type: 'client_credentials', audience: AUDIENCE },
      { grant_type: 'client_credentials', audience: AUDIENCE, client_id: 'me', client_secret: secret },
    ]);
    const credentials = (r: { authorization: string }) =>
      Buffer.from(r.authorization.replace(/^Basic /, ''), 'base64').toString('utf8');
    expect(requests[0].authorization).toMatch(/^Basic /);
    expect(credentials(requests[0])).toBe(`me:${encodeURIComponent(secret).replace(/%20/g, '+')}`);
    expect(requests[1].authorization).toBe(requests[0].authorization);
    expect(requests[2].authorization).toBe('');
  });

  it('a token without expires_in is kept until invalidate()', async () => {
    let issued = 0;
    const issuer = await serve(() => ({
      status: 200,
      json: { access_token: `opaque-${++issued}`, token_type: 'bearer' },
    }));
    const oidc = new OidcTokenSource({ issuer, clientId: 'me', clientSecret: secret, allowInsecureHttp: true });
    expect(await oidc.getToken(AUDIENCE)).toBe('opaque-1');
    expect(await oidc.getToken(AUDIENCE)).toBe('opaque-1');
    oidc.invalidate();
    expect(await oidc.getToken(AUDIENCE)).toBe('opaque-2');
  });

  /** A server that reads each request and never answers, except what `answer` takes. */
  async function hanging(answer: (url: string, issuer: string) => unknown = () => undefined): Promise<string> {
    server = createServer((req, res) => {
      const issuer = `http://127.0.0.1:${(server!.address() as AddressInfo).port}`;
      const json = answer(req.url ?? '', issuer);
      if (json === undefined) return; // hang
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(json));
    });
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  it('requestTimeoutMs bounds a discovery the provider never answers: a typed error, well before the 10 s default', async () => {
    const issuer = await hanging();
    const oidc = new OidcTokenSource({
      issuer,
      clientId: 'me',
      clientSecret: secret,
      allowInsecureHttp: true,
      requestTimeoutMs: 300,
    });
    const started = Date.now();
    const error = await failure(oidc.getToken(AUDIENCE));
    expect(error.code).toBe('DISCOVERY_FAILED');
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    expect(Date.now() - started).toBeLessThan(8_000);
  });

  it('requestTimeoutMs bounds a token request the provider never answers', async () => {
    const issuer = await hanging((url, iss) =>
      url === '/.well-known/openid-configuration'
        ? { issuer: iss, token_endpoint: `${iss}/token`, jwks_uri: `${iss}/jwks` }
        : undefined,
    );
    const oidc = new OidcTokenSource({
      issuer,
      clientId: 'me',
      clientSecret: secret,
      allowInsecureHttp: true,
      requestTimeoutMs: 300,
    });
    const started = Date.now();
    const error = await failure(oidc.getToken(AUDIENCE));
    expect(error.code).toBe('TOKEN_REQUEST_FAILED');
    expect(error.message).not.toContain(secret);
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    expect(Date.now() - started).toBeLessThan(8_000);
  });

  it('an issuer whose discovery answers with an error gives a typed discovery error', async () => {
    server = createServer((_req, res) => {
      res.writeHead(404, { 'Content-Type': 'text/plain' });
      res.end('not here');
    });
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const error = await failure(
      new OidcTokenSource({ issuer, clientId: 'me', clientSecret: secret, allowInsecureHttp: true }).getToken(),
    );
    expect(error.code).toBe('DISCOVERY_FAILED');
    expect(error.status).toBe(404);
    expect(error.message).toContain('HTTP 404');
  });
});

describe('OidcTokenSource options', () => {
  /** The option named and the whole message of the InvalidOptionError that `construct` throws. */
  function refusal(construct: () => unknown): { option: string; message: string } {
    try {
      construct();
    } catch (err) {
      expect(err).toBeInstanceOf(InvalidOptionError);
      return { option: (err as InvalidOptionError).option, message: (err as Error).message };
    }
    throw new Error('expected an InvalidOptionError, but the options were accepted');
  }

  const valid: OidcTokenSourceOptions = {
    issuer: 'https://login.example.com/realm',
    clientId: 'client',
    clientSecret: 'TOPSECRET',
  };

  it('accepts valid options and fills in defaults without any network call', () => {
    const oidc = new OidcTokenSource(valid);
    expect(oidc).toMatchObject({
      issuer: 'https://login.example.com/realm',
      clientId: 'client',
      refreshSkewMs: 30_000,
      allowInsecureHttp: false,
      clientAuthMethod: 'client_secret_basic',
      requestTimeoutMs: 10_000,
    });
    expect(oidc.audience).toBeUndefined();
  });

  it.each<[string, Record<string, unknown>]>([
    ['issuer', { issuer: undefined }],
    ['issuer', { issuer: '' }],
    ['issuer', { issuer: 'not a url' }],
    ['issuer', { issuer: 'ftp://login.example.com' }],
    ['issuer', { issuer: 'http://login.example.com' }],
    ['issuer', { issuer: 'https://user:pw@login.example.com' }],
    ['issuer', { issuer: 'https://login.example.com/?tenant=1' }],
    ['clientId', { clientId: '' }],
    ['clientId', { clientId: 42 }],
    ['clientSecret', { clientSecret: undefined }],
    ['clientSecret', { clientSecret: '   ' }],
    ['audience', { audience: '' }],
    ['audience', { audience: 7 }],
    ['scope', { scope: '' }],
    ['refreshSkewMs', { refreshSkewMs: -1 }],
    ['refreshSkewMs', { refreshSkewMs: 1.5 }],
    ['refreshSkewMs', { refreshSkewMs: '30000' }],
    ['allowInsecureHttp', { allowInsecureHttp: 'yes' }],
    ['clientAuthMethod', { clientAuthMethod: 'private_key_jwt' }],
    ['requestTimeoutMs', { requestTimeoutMs: 0 }],
  ])('rejects a bad %s: %j', (option, override) => {
    let thrown: unknown;
    try {
      new OidcTokenSource({ ...valid, ...override } as unknown as OidcTokenSourceOptions);
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(InvalidOptionError);
    expect((thrown as InvalidOptionError).option).toBe(option);
    expect((thrown as Error).message).toContain(`"${option}"`);
    expect((thrown as Error).message).not.toContain('TOPSECRET');
  });

  it('rejects a missing options object', () => {
    expect(() => new OidcTokenSource(undefined as unknown as OidcTokenSourceOptions)).toThrow(InvalidOptionError);
  });

  it.each<[string, unknown]>([
    ['undefined', undefined],
    ['null', null],
    ['a string', 'https://login.example.com'],
  ])('says that options that are %s must be an object', (_what, options) => {
    expect(refusal(() => new OidcTokenSource(options as OidcTokenSourceOptions))).toEqual({
      option: 'options',
      message: 'Invalid Snowplow option "options": must be an object',
    });
  });

  it.each<[string, Record<string, unknown>, string]>([
    ['issuer', { issuer: undefined }, "must be a non-empty string (the provider's https issuer URL)"],
    ['issuer', { issuer: '   ' }, "must be a non-empty string (the provider's https issuer URL)"],
    ['issuer', { issuer: 'not a url' }, 'is not an absolute URL (expected e.g. https://login.example.com/realm)'],
    ['issuer', { issuer: 'ftp://login.example.com' }, 'must use https, got ftp'],
    ['issuer', { issuer: 'https://user@login.example.com' }, 'must not contain credentials'],
    ['issuer', { issuer: 'https://:pw@login.example.com' }, 'must not contain credentials'],
    ['issuer', { issuer: 'https://login.example.com/?tenant=1' }, 'must not have a query or fragment'],
    ['issuer', { issuer: 'https://login.example.com/realm#top' }, 'must not have a query or fragment'],
    [
      'clientAuthMethod',
      { clientAuthMethod: 'private_key_jwt' },
      'must be "client_secret_basic" or "client_secret_post"',
    ],
  ])('says why a bad %s is refused: %j', (option, override, reason) => {
    expect(refusal(() => new OidcTokenSource({ ...valid, ...override } as unknown as OidcTokenSourceOptions))).toEqual({
      option,
      message: `Invalid Snowplow option "${option}": ${reason}`,
    });
  });

  it('prints the issuer, the client id and a fixed audience, and nothing else', () => {
    expect(String(new OidcTokenSource(valid))).toBe(
      'OidcTokenSource { issuer: "https://login.example.com/realm", clientId: "client" }',
    );
    expect(String(new OidcTokenSource({ ...valid, audience: 'https://collector.example.com' }))).toBe(
      'OidcTokenSource { issuer: "https://login.example.com/realm", clientId: "client", audience: "https://collector.example.com" }',
    );
  });

  it('allows an http issuer only with allowInsecureHttp', () => {
    expect(() => new OidcTokenSource({ ...valid, issuer: 'http://127.0.0.1:8080' })).toThrow(/allowInsecureHttp/);
    expect(new OidcTokenSource({ ...valid, issuer: 'http://127.0.0.1:8080', allowInsecureHttp: true }).issuer).toBe(
      'http://127.0.0.1:8080/',
    );
  });
});

describe('loading openid-client', () => {
  it('tells the user to install openid-client when it is missing', () => {
    jest.isolateModules(() => {
      jest.doMock('openid-client', () => {
        throw Object.assign(new Error("Cannot find module 'openid-client' from 'lib/auth/openid-client-loader.ts'"), {
          code: 'MODULE_NOT_FOUND',
        });
      });

      const isolated = require('../../lib/core') as typeof import('../../lib/core');
      let thrown: unknown;
      try {
        new isolated.OidcTokenSource({ issuer: 'https://login.example.com', clientId: 'c', clientSecret: 's' });
      } catch (err) {
        thrown = err;
      }
      expect(thrown).toBeInstanceOf(isolated.MissingDependencyError);
      expect(thrown).toMatchObject({ code: 'MISSING_DEPENDENCY', packageName: 'openid-client' });
      expect((thrown as Error).message).toBe(
        'OidcTokenSource needs the package "openid-client", which is not installed: run `npm install openid-client@^6`',
      );
    });
    jest.dontMock('openid-client');
  });

  it('explains a Node.js without require(esm), other load failures, and an incompatible version', () => {
    const failing = (error: Error & { code?: string }) => () =>
      loadOpenIdClient(() => {
        throw error;
      });
    expect(failing(Object.assign(new Error('require() of ES Module'), { code: 'ERR_REQUIRE_ESM' }))).toThrow(
      /Node\.js 20\.19\+/,
    );
    expect(failing(Object.assign(new Error("Cannot find module 'jose'"), { code: 'MODULE_NOT_FOUND' }))).toThrow(
      "which could not be loaded (MODULE_NOT_FOUND: Cannot find module 'jose')",
    );
    expect(failing(new Error('boom'))).toThrow(MissingDependencyError);
    expect(() => loadOpenIdClient(() => ({ Issuer: class {} }))).toThrow(/not version 6/);
    expect(typeof loadOpenIdClient().clientCredentialsGrant).toBe('function');
  });
});
