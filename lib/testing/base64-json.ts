/** Either the decoded value or why decoding failed. */
export type Decoded<T> = { ok: true; value: T } | { ok: false; message: string };

const UTF8 = new TextDecoder('utf-8', { fatal: true });
const BASE64_CHAR = /[A-Za-z0-9+/\-_]/;
const BASE64_TEXT = /^[A-Za-z0-9+/\-_]*$/;

/**
 * Decodes base64 text, standard (`+/`) or URL-safe (`-_`) alphabet, padded or not. Unlike
 * `Buffer.from(text, 'base64')` it rejects stray characters, impossible lengths and bad padding,
 * and requires the bytes to be UTF-8.
 */
export function decodeBase64Text(text: string): Decoded<string> {
  if (text.length === 0) return { ok: false, message: 'is empty' };
  const unpadded = text.replace(/={1,2}$/, '');
  const problem = base64Problem(text, unpadded);
  if (problem) return { ok: false, message: `is not base64: ${problem}` };
  const bytes = Buffer.from(unpadded.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
  try {
    return { ok: true, value: UTF8.decode(bytes) };
  } catch {
    return { ok: false, message: 'decodes from base64 to bytes that are not UTF-8' };
  }
}

function base64Problem(text: string, unpadded: string): string | undefined {
  // One pass of the regex engine in the common case; the slow per-character scan only to name a culprit.
  const invalid = BASE64_TEXT.test(unpadded) ? -1 : [...unpadded].findIndex((char) => !BASE64_CHAR.test(char));
  if (invalid >= 0) return `unexpected ${JSON.stringify(unpadded[invalid])} at position ${invalid}`;
  if (unpadded.length % 4 === 1) return `${unpadded.length} characters cannot encode whole bytes`;
  if (unpadded.length !== text.length && text.length % 4 !== 0) return 'padding does not complete a 4-character group';
  return undefined;
}

/** Parses JSON text, reporting the parser's reason on failure. */
export function parseJson(text: string): Decoded<unknown> {
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch (error) {
    return { ok: false, message: `is not JSON (${(error as Error).message})` };
  }
}

/** base64 → UTF-8 → JSON, with the step that failed named in the message. */
export function decodeBase64Json(text: string): Decoded<unknown> {
  const decoded = decodeBase64Text(text);
  if (!decoded.ok) return decoded;
  const parsed = parseJson(decoded.value);
  return parsed.ok ? parsed : { ok: false, message: `decodes from base64 to text that ${parsed.message}` };
}
