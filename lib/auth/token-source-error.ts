import { SnowplowError } from '../errors';

/** What went wrong while getting a token. */
export type TokenSourceErrorCode =
  /** The OpenID provider's discovery document could not be fetched or is invalid. */
  | 'DISCOVERY_FAILED'
  /** The token endpoint refused the request or could not be reached. */
  | 'TOKEN_REQUEST_FAILED'
  /** The token endpoint answered, but not with a usable bearer token. */
  | 'INVALID_TOKEN_RESPONSE'
  /** The token file does not exist. */
  | 'TOKEN_FILE_MISSING'
  /** The token file exists but cannot be read. */
  | 'TOKEN_FILE_UNREADABLE'
  /** The token file is empty, or holds something that cannot be a bearer token. */
  | 'TOKEN_FILE_INVALID';

/** What the provider answered, when a token request failed. */
export interface TokenSourceErrorDetails {
  /** HTTP status of the provider's answer, when there was one. */
  status?: number;
  /** OAuth `error` code from the provider's answer (e.g. `invalid_client`). */
  oauthError?: string;
}

/**
 * A token source could not produce a token. The message names what failed (issuer, endpoint, file
 * path, OAuth error code) and never contains a client secret, a token or a token file's content.
 */
export class TokenSourceError extends SnowplowError {
  /** What went wrong. */
  declare readonly code: TokenSourceErrorCode;
  /** HTTP status of the provider's answer, when there was one. */
  readonly status?: number;
  /** OAuth `error` code from the provider's answer. */
  readonly oauthError?: string;

  constructor(code: TokenSourceErrorCode, message: string, details: TokenSourceErrorDetails = {}) {
    super(message, code);
    this.status = details.status;
    this.oauthError = details.oauthError;
  }
}
