// Every token source, printed every way a log line or an error report prints an object, shows
// neither a token nor a client secret: before it has a token, and after it fetched and cached one.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { FileTokenSource, OidcClientAuthMethod, OidcTokenSource, StaticTokenSource, TokenSource } from '../../lib/core';
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
