import { performance } from 'node:perf_hooks';
import { inspect } from 'node:util';
import type { Configuration } from 'openid-client';
import { InvalidOptionError } from '../errors';
import { loadOpenIdClient, OpenIdClientModule } from './openid-client-loader';
import { checkBoolean, checkInteger, checkText, HEADER_SAFE_TOKEN } from '../validation';
import { redactUrl } from '../utils/redact-url';
import { describeFailure } from './oidc-failure';
import { TokenSourceError } from './token-source-error';
import { TokenSource } from './token-source.interface';

/** How the client authenticates at the token endpoint. */
export type OidcClientAuthMethod = 'client_secret_basic' | 'client_secret_post';

/** Options of `new OidcTokenSource(...)`. */
export interface OidcTokenSourceOptions {
  /**
   * The OpenID provider's issuer URL; its metadata is discovered from
   * `<issuer>/.well-known/openid-configuration`. Must be https unless `allowInsecureHttp` is set.
   */
  issuer: string;
  /** The OAuth client id. */
  clientId: string;
  /** The OAuth client secret; kept private, never printed. */
  clientSecret: string;
  /**
   * Audience of every token, sent as the `audience` parameter of the token request. Default: the
   * audience the emitter passes to `enhanceHeader` (its `audience` option, which defaults to the
   * collector URL's origin).
   */
  audience?: string;
  /** Space-separated scopes sent as the `scope` parameter of the token request. */
  scope?: string;
  /**
   * Refresh a token this long before it expires, ms. Default 30,000. Never more than half the
   * token's lifetime, so short-lived tokens are still reused.
   */
  refreshSkewMs?: number;
  /** Allow an http issuer and http endpoints, e.g. a provider on 127.0.0.1 in tests. Default false. */
  allowInsecureHttp?: boolean;
  /** How the client authenticates at the token endpoint. Default `client_secret_basic`. */
  clientAuthMethod?: OidcClientAuthMethod;
  /** Timeout of each discovery and token request, ms. Default 10,000. */
  requestTimeoutMs?: number;
}

export const DEFAULT_REFRESH_SKEW_MS = 30_000;
export const DEFAULT_OIDC_REQUEST_TIMEOUT_MS = 10_000;

interface CachedToken {
  token: string;
  /** performance.now() after which the token is refreshed; Infinity when the provider gave no lifetime. */
  refreshAt: number;
}

/**
 * Gets access tokens with the OAuth 2.0 client-credentials grant from an OpenID provider found by
 * discovery, using openid-client (an optional peer dependency, v6) and sends them as
 * `Authorization: Bearer ...`.
 *
 * Tokens are cached per audience until `refreshSkewMs` before they expire; concurrent requests
 * that find no fresh token share one token request. `invalidate()` (called by the emitter on a 401
 * or 403 from the collector) drops the cached tokens. Failures throw `TokenSourceError`, whose
 * message never contains the client secret or a token. Both are held in private fields (as is the
 * discovered configuration) and appear in neither `JSON.stringify()`, `util.inspect()` (even with
 * `showHidden`) nor `String()` of this object, before or after a token was fetched.
 */
export class OidcTokenSource implements TokenSource {
  /** The issuer URL, normalised. */
  readonly issuer: string;
  /** The OAuth client id. */
  readonly clientId: string;
  /** The audience fixed by the options, if any. */
  readonly audience?: string;
  /** The scope sent with token requests, if any. */
  readonly scope?: string;
  /** How long before expiry a token is refreshed, ms. */
  readonly refreshSkewMs: number;
  /** Whether http issuers are allowed (tests only). */
  readonly allowInsecureHttp: boolean;
  /** How the client authenticates at the token endpoint. */
  readonly clientAuthMethod: OidcClientAuthMethod;
  /** Timeout of each discovery and token request, ms. */
  readonly requestTimeoutMs: number;

  readonly #issuerUrl: URL;
  readonly #clientSecret: string;
  readonly #client: OpenIdClientModule;
  #configuration?: Configuration;
  #discovering?: Promise<Configuration>;
  readonly #tokens = new Map<string, CachedToken>();
  readonly #requests = new Map<string, Promise<string>>();

  constructor(options: OidcTokenSourceOptions) {
    if (options === null || typeof options !== 'object') throw new InvalidOptionError('options', 'must be an object');
    this.allowInsecureHttp = checkBoolean('allowInsecureHttp', options.allowInsecureHttp, false);
    this.#issuerUrl = parseIssuer(options.issuer, this.allowInsecureHttp);
    this.issuer = this.#issuerUrl.href;
    this.clientId = checkText('clientId', options.clientId);
    this.#clientSecret = checkText('clientSecret', options.clientSecret);
    if (options.audience !== undefined) this.audience = checkText('audience', options.audience);
    if (options.scope !== undefined) this.scope = checkText('scope', options.scope);
    this.refreshSkewMs = checkInteger('refreshSkewMs', options.refreshSkewMs, { min: 0 }, DEFAULT_REFRESH_SKEW_MS);
    this.requestTimeoutMs = checkInteger(
      'requestTimeoutMs',
      options.requestTimeoutMs,
      { min: 1 },
      DEFAULT_OIDC_REQUEST_TIMEOUT_MS,
    );
    const method = options.clientAuthMethod ?? 'client_secret_basic';
    if (method !== 'client_secret_basic' && method !== 'client_secret_post') {
      throw new InvalidOptionError('clientAuthMethod', 'must be "client_secret_basic" or "client_secret_post"');
    }
    this.clientAuthMethod = method;
    this.#client = loadOpenIdClient();
  }

  /** Sets `Authorization: Bearer <access token>`, from the cache or a new token request. */
  async enhanceHeader(headers: Record<string, string>, audience: string): Promise<void> {
    headers.Authorization = `Bearer ${await this.getToken(audience)}`;
  }

  /**
   * A fresh access token for `audience` (ignored when the constructor fixed one): the cached one,
   * or the result of the one token request in flight for that audience, or a new request.
   */
  getToken(audience?: string): Promise<string> {
    const key = this.audience ?? audience ?? '';
    const cached = this.#tokens.get(key);
    if (cached && performance.now() < cached.refreshAt) return Promise.resolve(cached.token);
    const inFlight = this.#requests.get(key);
    if (inFlight) return inFlight;
    const request = this.#requestToken(key).finally(() => {
      if (this.#requests.get(key) === request) this.#requests.delete(key);
    });
    this.#requests.set(key, request);
    return request;
  }

  /** Forgets every cached token; the next call requests a new one. A request in flight is kept and shared. */
  invalidate(): void {
    this.#tokens.clear();
  }

  /** Safe for logs: no client secret, no token. */
  toJSON(): Record<string, unknown> {
    return {
      type: 'OidcTokenSource',
      issuer: this.issuer,
      clientId: this.clientId,
      audience: this.audience,
      scope: this.scope,
      refreshSkewMs: this.refreshSkewMs,
    };
  }

  /** Safe for logs: issuer, client id and audience; no client secret, no token. */
  toString(): string {
    const audience = this.audience === undefined ? '' : `, audience: ${JSON.stringify(this.audience)}`;
    const client = `clientId: ${JSON.stringify(this.clientId)}`;
    return `OidcTokenSource { issuer: ${JSON.stringify(this.issuer)}, ${client}${audience} }`;
  }

  /** What `util.inspect` and `console.log` print: the same as `toString()`. */
  [inspect.custom](): string {
    return this.toString();
  }

  async #requestToken(audience: string): Promise<string> {
    const configuration = await this.#discover();
    const parameters: Record<string, string> = {};
    if (audience !== '') parameters.audience = audience;
    if (this.scope !== undefined) parameters.scope = this.scope;
    const requestedAt = performance.now();
    let response: Awaited<ReturnType<OpenIdClientModule['clientCredentialsGrant']>>;
    try {
      response = await this.#client.clientCredentialsGrant(configuration, parameters);
    } catch (err) {
      const endpoint = redactUrl(configuration.serverMetadata().token_endpoint ?? this.issuer);
      const failure = describeFailure(err, this.#clientSecret, this.clientId);
      throw new TokenSourceError(
        'TOKEN_REQUEST_FAILED',
        `client-credentials token request to ${endpoint} failed: ${failure.text}`,
        failure,
      );
    }
    const token = response.access_token;
    if (typeof response.token_type !== 'string' || response.token_type.toLowerCase() !== 'bearer') {
      const type = typeof response.token_type === 'string' ? response.token_type.slice(0, 40) : 'none';
      throw new TokenSourceError(
        'INVALID_TOKEN_RESPONSE',
        `the token endpoint issued a token of type "${type}", expected Bearer`,
      );
    }
    if (typeof token !== 'string' || !HEADER_SAFE_TOKEN.test(token)) {
      throw new TokenSourceError(
        'INVALID_TOKEN_RESPONSE',
        'the token endpoint issued an access token that is empty or not a valid header value',
      );
    }
    const expiresIn = response.expiresIn();
    let refreshAt = Number.POSITIVE_INFINITY;
    if (expiresIn !== undefined) {
      const lifetimeMs = expiresIn * 1000;
      refreshAt = requestedAt + lifetimeMs - Math.min(this.refreshSkewMs, lifetimeMs / 2);
    }
    this.#tokens.set(audience, { token, refreshAt });
    return token;
  }

  /** The discovered provider metadata: discovered once, shared by concurrent callers, retried after a failure. */
  #discover(): Promise<Configuration> {
    if (this.#configuration) return Promise.resolve(this.#configuration);
    if (!this.#discovering) {
      const client = this.#client;
      const auth =
        this.clientAuthMethod === 'client_secret_post'
          ? client.ClientSecretPost(this.#clientSecret)
          : client.ClientSecretBasic(this.#clientSecret);
      this.#discovering = client
        .discovery(this.#issuerUrl, this.clientId, undefined, auth, {
          execute: this.allowInsecureHttp ? [client.allowInsecureRequests] : [],
          timeout: this.requestTimeoutMs / 1000,
        })
        .then(
          (configuration) => {
            this.#configuration = configuration;
            this.#discovering = undefined;
            return configuration;
          },
          (err: unknown) => {
            this.#discovering = undefined;
            const failure = describeFailure(err, this.#clientSecret, this.clientId);
            throw new TokenSourceError(
              'DISCOVERY_FAILED',
              `OpenID discovery for issuer ${this.issuer} failed: ${failure.text}`,
              failure,
            );
          },
        );
    }
    return this.#discovering;
  }
}

function parseIssuer(value: unknown, allowInsecureHttp: boolean): URL {
  if (typeof value !== 'string' || value.trim() === '') {
    throw new InvalidOptionError('issuer', "must be a non-empty string (the provider's https issuer URL)");
  }
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new InvalidOptionError('issuer', 'is not an absolute URL (expected e.g. https://login.example.com/realm)');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new InvalidOptionError('issuer', `must use https, got ${url.protocol.replace(/:$/, '')}`);
  }
  if (url.protocol === 'http:' && !allowInsecureHttp) {
    throw new InvalidOptionError(
      'issuer',
      'must use https (set allowInsecureHttp: true only for a local test provider)',
    );
  }
  if (url.username || url.password) throw new InvalidOptionError('issuer', 'must not contain credentials');
  if (url.search || url.hash) throw new InvalidOptionError('issuer', 'must not have a query or fragment');
  return url;
}
