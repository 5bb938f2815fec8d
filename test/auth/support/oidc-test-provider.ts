import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { AddressInfo } from 'node:net';
import { createLocalJWKSet, exportJWK, generateKeyPair, JSONWebKeySet, JWTPayload, jwtVerify } from 'jose';
import type { Adapter, AdapterPayload, Provider as ProviderType } from 'oidc-provider';
import { RestartableServer } from '../../support/restartable-server';

type OidcProviderModule = typeof import('oidc-provider');
type Provider = ProviderType;

/**
 * oidc-provider warns on import that Node.js 20 is not a supported runtime (it wants 22+); the
 * client-credentials flow used here works on 20, so that one warning is filtered out.
 */
let oidcProviderModule: OidcProviderModule | undefined;
function oidcProvider(): OidcProviderModule {
  if (!oidcProviderModule) {
    const warn = console.warn;
    console.warn = (...args: unknown[]) => {
      if (!String(args[0]).includes('Unsupported runtime')) warn(...args);
    };
    try {
      oidcProviderModule = require('oidc-provider') as OidcProviderModule;
    } finally {
      console.warn = warn;
    }
  }
  return oidcProviderModule;
}

/** A Map per model: the provider keeps whatever it stores for the life of the test. */
function memoryAdapter(): (name: string) => Adapter {
  const stores = new Map<string, Map<string, AdapterPayload>>();
  return (name) => {
    const store = stores.get(name) ?? new Map<string, AdapterPayload>();
    stores.set(name, store);
    const findBy = (match: (payload: AdapterPayload) => boolean) => [...store.values()].find(match);
    return {
      upsert: async (id, payload) => void store.set(id, payload),
      find: async (id) => store.get(id),
      findByUserCode: async (userCode) => findBy((p) => p.userCode === userCode),
      findByUid: async (uid) => findBy((p) => p.uid === uid),
      consume: async (id) => {
        const payload = store.get(id);
        if (payload) payload.consumed = Math.floor(Date.now() / 1000);
      },
      destroy: async (id) => void store.delete(id),
      revokeByGrantId: async (grantId) => {
        for (const [id, payload] of store) if (payload.grantId === grantId) store.delete(id);
      },
    };
  };
}

export interface TokenRequestRecord {
  status: number;
  clientId?: string;
  audience?: string;
  scope?: string;
  /** The OAuth error code of a refused request. */
  error?: string;
}

export const COLLECTOR_SCOPE = 'collector:write';

/** The signing key is the slow part (RSA); one per test file is plenty. */
let signingKey: Promise<Record<string, unknown>> | undefined;
function privateSigningJwk(): Promise<Record<string, unknown>> {
  signingKey ??= generateKeyPair('RS256', { extractable: true, modulusLength: 2048 }).then(async ({ privateKey }) => ({
    ...(await exportJWK(privateKey)),
    kid: 'test-signing-key',
    alg: 'RS256',
    use: 'sig',
  }));
  return signingKey;
}

/**
 * A real OpenID provider (oidc-provider) on 127.0.0.1 over http, in the test process.
 *
 * Two confidential clients may use the client-credentials grant: `clientId` authenticates with
 * client_secret_basic, `postClientId` with client_secret_post. The `audience` token-request
 * parameter (what Auth0 and Okta call it) is taken as the RFC 8707 resource indicator, so the
 * access token is a JWT (RFC 9068) with that audience, scope `collector:write` and a lifetime of
 * `tokenTtlSeconds`. Token requests are recorded, and `holdTokenRequests()` parks them until released.
 */
export class OidcTestProvider {
  readonly clientId = 'snowplow-emitter';
  readonly postClientId = 'snowplow-emitter-post';
  readonly clientSecret = `cs-${randomBytes(24).toString('hex')}`;
  /** Lifetime of the access tokens issued from now on, seconds. */
  tokenTtlSeconds = 300;
  /** Every finished token request, in order. */
  readonly tokenRequests: TokenRequestRecord[] = [];
  /** Paths of every HTTP request the provider received. */
  readonly paths: string[] = [];
  /** Token requests parked by `holdTokenRequests()` right now. */
  heldTokenRequests = 0;

  private readonly server = new RestartableServer((req, res) => {
    this.paths.push(req.url ?? '');
    this.handler ??= this.provider.callback();
    void this.handler(req, res);
  });
  private provider!: Provider;
  private handler?: ReturnType<Provider['callback']>;
  private hold?: Promise<void>;
  private jwks?: ReturnType<typeof createLocalJWKSet>;

  static async start(): Promise<OidcTestProvider> {
    const instance = new OidcTestProvider();
    await instance.server.start();
    instance.provider = await instance.createProvider();
    return instance;
  }

  get issuer(): string {
    return this.server.url;
  }

  /** Successful token requests. */
  get issuedTokens(): number {
    return this.tokenRequests.filter((r) => r.status === 200).length;
  }

  /** Parks every token request until the returned release function is called. */
  holdTokenRequests(): () => void {
    let release!: () => void;
    this.hold = new Promise<void>((resolve) => {
      release = () => {
        this.hold = undefined;
        resolve();
      };
    });
    return release;
  }

  /**
   * Verifies an access token against the provider's own JWKS (fetched from its jwks_uri once):
   * signature, issuer, audience, `at+jwt` type and the client that got it.
   */
  async verifyAccessToken(token: string, audience: string): Promise<JWTPayload> {
    this.jwks ??= await this.fetchJwks();
    const { payload } = await jwtVerify(token, this.jwks, { issuer: this.issuer, audience, typ: 'at+jwt' });
    if (payload.client_id !== this.clientId && payload.client_id !== this.postClientId) {
      throw new Error(`token issued to an unknown client ${String(payload.client_id)}`);
    }
    return payload;
  }

  /** Stops listening and resets open connections: the port is closed until `restart()`. */
  stop(): Promise<void> {
    return this.server.stop();
  }

  /** Listens again on the same port, with the same keys and clients. */
  restart(): Promise<void> {
    return this.server.start();
  }

  private async fetchJwks(): Promise<ReturnType<typeof createLocalJWKSet>> {
    const discovery = (await (await fetch(`${this.issuer}/.well-known/openid-configuration`)).json()) as {
      jwks_uri: string;
    };
    const keys = (await (await fetch(discovery.jwks_uri)).json()) as JSONWebKeySet;
    return createLocalJWKSet(keys);
  }

  private async createProvider(): Promise<Provider> {
    const audienceOf = (body: unknown): string | undefined => {
      const value = (body as Record<string, unknown> | undefined)?.audience;
      return typeof value === 'string' ? value : undefined;
    };
    const { Provider, errors } = oidcProvider();
    const provider = new Provider(this.issuer, {
      adapter: memoryAdapter(),
      ttl: { ClientCredentials: (_ctx, token) => token.resourceServer?.accessTokenTTL ?? this.tokenTtlSeconds },
      clients: [
        {
          client_id: this.clientId,
          client_secret: this.clientSecret,
          grant_types: ['client_credentials'],
          response_types: [],
          redirect_uris: [],
          token_endpoint_auth_method: 'client_secret_basic',
        },
        {
          client_id: this.postClientId,
          client_secret: this.clientSecret,
          grant_types: ['client_credentials'],
          response_types: [],
          redirect_uris: [],
          token_endpoint_auth_method: 'client_secret_post',
        },
      ],
      jwks: { keys: [await privateSigningJwk()] },
      cookies: { keys: [randomBytes(16).toString('hex')] },
      features: {
        devInteractions: { enabled: false },
        clientCredentials: { enabled: true },
        resourceIndicators: {
          enabled: true,
          defaultResource: (ctx, _client, oneOf) => oneOf ?? audienceOf(ctx.oidc.body),
          getResourceServerInfo: (_ctx, resourceIndicator) => {
            if (!resourceIndicator.startsWith('http://127.0.0.1:') && !resourceIndicator.startsWith('https://')) {
              throw new errors.InvalidTarget();
            }
            return {
              scope: COLLECTOR_SCOPE,
              audience: resourceIndicator,
              accessTokenFormat: 'jwt',
              accessTokenTTL: this.tokenTtlSeconds,
              jwt: { sign: { alg: 'RS256' } },
            };
          },
        },
      },
    });
    provider.use(async (ctx, next) => {
      const isToken = ctx.method === 'POST' && ctx.path === '/token';
      if (isToken && this.hold) {
        this.heldTokenRequests++;
        try {
          await this.hold;
        } finally {
          this.heldTokenRequests--;
        }
      }
      await next();
      if (isToken) {
        const body = ctx.oidc?.body as Record<string, unknown> | undefined;
        const errorCode = (ctx.body as { error?: unknown } | undefined)?.error;
        this.tokenRequests.push({
          status: ctx.status,
          clientId: ctx.oidc?.client?.clientId,
          audience: audienceOf(body),
          scope: typeof body?.scope === 'string' ? body.scope : undefined,
          error: typeof errorCode === 'string' ? errorCode : undefined,
        });
      }
    });
    return provider;
  }
}

/** A loopback port with nothing listening on it. */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
