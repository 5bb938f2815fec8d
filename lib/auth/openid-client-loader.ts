import type * as OpenIdClient from 'openid-client';
import { MissingDependencyError } from '../errors';
import { loadOptional, OptionalDependency } from '../utils/optional-dependency';

export type OpenIdClientModule = typeof OpenIdClient;

const OPENID_CLIENT: OptionalDependency = {
  name: 'openid-client',
  feature: 'OidcTokenSource',
  install: 'npm install openid-client@^6',
};

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
 * Node.js 20.19 and 22.12). Every failure is a `MissingDependencyError` that says what to do.
 */
export function loadOpenIdClient(load: (id: string) => unknown = require): OpenIdClientModule {
  const candidate = loadOptional<Record<string, unknown> | null>(OPENID_CLIENT, load);
  if (!candidate || REQUIRED_EXPORTS.some((name) => typeof candidate[name] !== 'function')) {
    throw new MissingDependencyError(
      OPENID_CLIENT.name,
      OPENID_CLIENT.feature,
      OPENID_CLIENT.install,
      'is installed, but not version 6 (discovery() and clientCredentialsGrant() are missing)',
    );
  }
  return candidate as unknown as OpenIdClientModule;
}
