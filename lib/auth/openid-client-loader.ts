import type * as OpenIdClient from 'openid-client';
import { TokenSourceError } from './token-source-error';

export type OpenIdClientModule = typeof OpenIdClient;

const REQUIRED_EXPORTS = [
  'discovery',
  'clientCredentialsGrant',
  'allowInsecureRequests',
  'ClientSecretBasic',
  'ClientSecretPost',
] as const;

/**
 * Loads the optional peer dependency openid-client (v6). It is ESM-only without top-level await,
 * so the CommonJS build loads it with a plain `require()` (require(esm), on by default since
 * Node.js 20.19 and 22.12). Every failure becomes a `TokenSourceError` that says what to do.
 */
export function loadOpenIdClient(load: (id: string) => unknown = require): OpenIdClientModule {
  let loaded: unknown;
  try {
    loaded = load('openid-client');
  } catch (err) {
    const code = (err as { code?: unknown } | null)?.code;
    const message = err instanceof Error ? err.message : String(err);
    if (code === 'MODULE_NOT_FOUND' && /['"]openid-client['"]/.test(message)) {
      throw new TokenSourceError(
        'DEPENDENCY_MISSING',
        'OidcTokenSource needs the optional peer dependency openid-client (v6): run `npm install openid-client@^6`',
      );
    }
    if (code === 'ERR_REQUIRE_ESM') {
      throw new TokenSourceError(
        'DEPENDENCY_MISSING',
        'openid-client is ESM-only and this Node.js cannot require() ES modules: use Node.js 20.19+ or 22.12+ without --no-experimental-require-module',
      );
    }
    const firstLine = message.split('\n', 1)[0];
    throw new TokenSourceError(
      'DEPENDENCY_MISSING',
      `openid-client could not be loaded (${typeof code === 'string' ? code : 'error'}): ${firstLine}`,
    );
  }
  const candidate = loaded as Record<string, unknown> | null;
  if (!candidate || REQUIRED_EXPORTS.some((name) => typeof candidate[name] !== 'function')) {
    throw new TokenSourceError(
      'DEPENDENCY_MISSING',
      'the installed openid-client is not version 6 (discovery() and clientCredentialsGrant() are missing): run `npm install openid-client@^6`',
    );
  }
  return loaded as OpenIdClientModule;
}
