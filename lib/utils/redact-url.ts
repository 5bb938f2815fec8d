/**
 * Redaction of URLs and of the text around them, for everything that may reach a log line, an
 * error message, `toJSON`, `util.inspect`, `stats()` or a dead-letter record. URLs are taken apart
 * with the WHATWG URL parser (Node's `URL`), never by hand: the user part (name and password) and
 * every query and fragment value are replaced by `***`; scheme, host, port and path are kept, as
 * they say where a request went and are no credentials.
 */

/** What every masked part reads as. */
export const REDACTED = '***';

/**
 * Credentials shorter than this are not masked where they appear loose in free text: a two-letter
 * user name would mangle every message it occurs in. URLs are masked whatever the length of their
 * user part, since they are taken apart by the parser.
 */
const MIN_LOOSE_SECRET = 4;

/** A URL with a scheme and `//` inside free text: what `redactUrlsIn` parses and masks. */
const URL_IN_TEXT = /\b[a-zA-Z][a-zA-Z0-9+.-]*:\/\/[^\s"'<>`]+/g;

/**
 * The URL as text with its user part (user name and password, either alone) and the value of
 * every query and fragment parameter replaced by `***`, safe for logs and error messages. A string
 * is parsed first: an absolute URL, a protocol-relative one (`//user@host/...`) or a relative
 * reference (`/path?key=value`, as a redirect's `Location` may be). What cannot be parsed at all
 * is masked whole.
 */
export function redactUrl(url: URL | string): string {
  if (typeof url !== 'string') return redactParsed(url);
  try {
    return redactParsed(new URL(url));
  } catch {
    return redactReference(url);
  }
}

/** Every URL in `text` (anything of the form `scheme://...`) redacted as by `redactUrl`. */
export function redactUrlsIn(text: string): string {
  return text.replace(URL_IN_TEXT, (match) => {
    try {
      return redactParsed(new URL(match));
    } catch {
      return `${match.slice(0, match.indexOf('://') + 3)}${REDACTED}`;
    }
  });
}

/**
 * `text` with every URL redacted (`redactUrlsIn`) and every occurrence of each secret replaced by
 * `***`. Secrets shorter than 4 characters are left to the URL masking (see `MIN_LOOSE_SECRET`).
 */
export function redactText(text: string, secrets: Iterable<string> = []): string {
  let masked = redactUrlsIn(text);
  // Longest first, so a secret that contains another is masked whole.
  const forms = [...new Set(secrets)].filter((s) => s.length >= MIN_LOOSE_SECRET).sort((a, b) => b.length - a.length);
  for (const secret of forms) masked = masked.split(secret).join(REDACTED);
  return masked;
}

/**
 * The forms in which the credentials of `url`'s user part may show up in a message: the user name
 * and password as written and percent-decoded, and the base64 of `user:password` that HTTP Basic
 * authentication sends. Empty when the URL has no user part.
 */
export function urlCredentialForms(url: URL): string[] {
  if (!url.username && !url.password) return [];
  const forms: string[] = [];
  const users = new Set([url.username, decoded(url.username)]);
  const passwords = new Set([url.password, decoded(url.password)]);
  for (const user of users) {
    if (user) forms.push(user);
    for (const password of passwords) {
      if (password) forms.push(password);
      forms.push(...base64Forms(`${user}:${password}`));
    }
  }
  return forms;
}

/** The padded, unpadded and URL-safe base64 of `text`: each form a Basic credential or an echo of one may take. */
export function base64Forms(text: string): string[] {
  const standard = Buffer.from(text, 'utf8').toString('base64');
  const unpadded = standard.replace(/=+$/, '');
  return [standard, unpadded, Buffer.from(text, 'utf8').toString('base64url')];
}

function decoded(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    // A stray % stays as written.
    return text;
  }
}

function redactParsed(url: URL): string {
  const copy = new URL(url.href);
  if (copy.username) copy.username = REDACTED;
  if (copy.password) copy.password = REDACTED;
  if (copy.search) copy.search = maskParameters(copy.search.slice(1));
  if (copy.hash) copy.hash = maskParameters(copy.hash.slice(1));
  return copy.href;
}

/** A reference that is no absolute URL: protocol-relative, or a path with a query and fragment. */
function redactReference(reference: string): string {
  try {
    if (reference.startsWith('//')) return redactParsed(new URL(`http:${reference}`)).slice('http:'.length);
    const cut = reference.search(/[?#]/);
    if (cut < 0) {
      new URL(reference, 'http://relative.invalid/');
      return reference;
    }
    const path = reference.slice(0, cut);
    const rest = reference.slice(cut);
    const hashAt = rest.indexOf('#');
    const query = rest.startsWith('?') ? rest.slice(1, hashAt < 0 ? undefined : hashAt) : undefined;
    const hash = hashAt < 0 ? undefined : rest.slice(hashAt + 1);
    return `${path}${query === undefined ? '' : `?${maskParameters(query)}`}${hash === undefined ? '' : `#${maskParameters(hash)}`}`;
  } catch {
    return REDACTED;
  }
}

/** `a=1&b&c=3` as `a=***&***&c=***`: every value masked, and a bare item (which may be a key) too. */
function maskParameters(parameters: string): string {
  return parameters
    .split('&')
    .map((item) => {
      if (item === '') return item;
      const eq = item.indexOf('=');
      return eq < 0 ? REDACTED : `${item.slice(0, eq + 1)}${REDACTED}`;
    })
    .join('&');
}
