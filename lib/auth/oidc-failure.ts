/**
 * What an openid-client failure says, in words safe to show: the HTTP status, the OAuth error and
 * its description, clipped, with the client secret masked should a provider echo it.
 */

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
 * secret masked anyway.
 */
export function describeFailure(err: unknown, secret: string): Failure {
  const clean = (text: string) => clip(mask(text, secret));
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

function mask(text: string, secret: string): string {
  let masked = text;
  for (const form of new Set([secret, encodeURIComponent(secret), encodeURIComponent(secret).replace(/%20/g, '+')])) {
    masked = masked.split(form).join('***');
  }
  return masked;
}
