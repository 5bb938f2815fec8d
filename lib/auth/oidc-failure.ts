/**
 * What an openid-client failure says, in words safe to show: the HTTP status, the OAuth error and
 * its description, clipped, with the client secret masked should a provider echo it (as written,
 * URL-encoded, or inside the base64 of the Basic credentials), and every URL redacted.
 */
import { base64Forms, redactUrlsIn, REDACTED } from '../utils/redact-url';

/** A failure of discovery or of a token request, described. */
export interface Failure {
  text: string;
  status?: number;
  oauthError?: string;
}

const MAX_DETAIL = 200;

interface ErrorLike {
  name?: unknown;
  message?: unknown;
  code?: unknown;
  status?: unknown;
  headers?: unknown;
  error?: unknown;
  error_description?: unknown;
  parameters?: unknown;
  cause?: unknown;
}

/**
 * What an openid-client failure says, in one line: the OAuth error and HTTP status of an error
 * answer (in the body, or in a WWW-Authenticate challenge), or else the messages and error codes
 * along the `cause` chain (e.g. "fetch failed: connect ECONNREFUSED 127.0.0.1:8080"). Built from
 * chosen fields only, never from a request, its headers or a success body, and with the client
 * secret masked anyway (`clientId` given, the Basic credentials of the pair too), URLs redacted.
 */
export function describeFailure(err: unknown, secret: string, clientId?: string): Failure {
  const forms = secretForms(secret, clientId);
  const clean = (text: string) => clip(mask(redactUrlsIn(text), forms));
  const chain: ErrorLike[] = [];
  for (
    let link: unknown = err;
    link !== null && typeof link === 'object' && chain.length < 6;
    link = (link as ErrorLike).cause
  ) {
    chain.push(link as ErrorLike);
  }
  const status = chain.map((e) => e.status).find((s): s is number => typeof s === 'number');
  const oauth = oauthErrorIn(chain);
  if (oauth) {
    const oauthError = clean(oauth.error);
    const description = oauth.description ? ` (${clean(oauth.description)})` : '';
    return { text: `${status === undefined ? '' : `HTTP ${status} `}${oauthError}${description}`, status, oauthError };
  }
  const messages: string[] = [];
  const codes: string[] = [];
  for (const e of chain) {
    const isError = typeof e.name === 'string' && typeof e.message === 'string';
    if (isError && e.message && !messages.includes(e.message as string)) messages.push(e.message as string);
    if (isError && typeof e.code === 'string' && !codes.includes(e.code)) codes.push(e.code);
  }
  if (status !== undefined) codes.push(`HTTP ${status}`);
  const text = messages.length ? messages.join(': ') : 'unknown error';
  return { text: clean(codes.length ? `${text} (${codes.join(', ')})` : text), status };
}

/** The OAuth `error` of an error answer: from its JSON body, or from a WWW-Authenticate challenge. */
function oauthErrorIn(chain: ErrorLike[]): { error: string; description?: string } | undefined {
  for (const e of chain) {
    if (typeof e.error === 'string') {
      return { error: e.error, description: typeof e.error_description === 'string' ? e.error_description : undefined };
    }
    if (Array.isArray(e.cause)) {
      for (const challenge of e.cause as ErrorLike[]) {
        const parameters = (challenge?.parameters ?? {}) as ErrorLike;
        if (typeof parameters.error === 'string') {
          return {
            error: parameters.error,
            description: typeof parameters.error_description === 'string' ? parameters.error_description : undefined,
          };
        }
      }
    }
  }
  return undefined;
}

function clip(text: string): string {
  const line = text.replace(/[\r\n]+/g, ' ');
  return line.length > MAX_DETAIL ? `${line.slice(0, MAX_DETAIL)}...` : line;
}

/**
 * application/x-www-form-urlencoded as oauth4webapi writes the Basic credentials (RFC 6749 2.3.1):
 * encodeURIComponent, with `-_.!~*'()` percent-encoded as well and a space as `+`.
 */
function formUrlEncode(text: string): string {
  return encodeURIComponent(text)
    .replace(/[-_.!~*'()]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
    .replace(/%20/g, '+');
}

/**
 * Every form of the secret a provider may echo: as written, URL- and form-encoded (four ways), and the
 * base64 of `client id:secret` in each encoding, as client_secret_basic sends it. Longest first.
 */
function secretForms(secret: string, clientId: string | undefined): SecretForms {
  const plain = [
    ...new Set([
      secret,
      encodeURIComponent(secret),
      encodeURIComponent(secret).replace(/%20/g, '+'),
      formUrlEncode(secret),
      // As a form body carries it (client_secret_post): WHATWG's form encoding.
      new URLSearchParams({ s: secret }).toString().slice(2),
    ]),
  ].filter((form) => form !== '');
  const all = new Set(plain);
  if (clientId !== undefined) {
    for (const id of new Set([clientId, encodeURIComponent(clientId), formUrlEncode(clientId)]))
      for (const form of plain) for (const b64 of base64Forms(`${id}:${form}`)) all.add(b64);
  }
  return { plain, all: [...all].sort((a, b) => b.length - a.length) };
}

interface SecretForms {
  /** The secret as written and URL-encoded. */
  plain: readonly string[];
  /** Those and the base64 forms of the Basic credentials, longest first. */
  all: readonly string[];
}

/** A run of base64 (either alphabet) long enough to hold a secret. */
const BASE64_RUN = /[A-Za-z0-9+/_-]{8,}={0,2}/g;

/**
 * `text` with each form of the secret masked, and any base64 run that decodes (at any of the four
 * alignments) to text holding the secret: an echo of the credentials encoded some other way.
 */
function mask(text: string, forms: SecretForms): string {
  let masked = text;
  for (const form of forms.all) masked = masked.split(form).join(REDACTED);
  return masked.replace(BASE64_RUN, (run) => (holdsSecret(run, forms.plain) ? REDACTED : run));
}

function holdsSecret(run: string, forms: readonly string[]): boolean {
  for (let offset = 0; offset < 4 && run.length - offset >= 8; offset++) {
    const decoded = Buffer.from(run.slice(offset), 'base64').toString('utf8');
    if (forms.some((form) => decoded.includes(form))) return true;
  }
  return false;
}
