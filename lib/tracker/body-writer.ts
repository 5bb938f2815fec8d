/*
 * Writing an event's wire form straight into a request body (see `CustomEventPayload.writeTail`):
 * bytes in, bytes out, no string made on the way. Each function returns the offset after what it
 * wrote, or -1 when it cannot write the value exactly as its string form would be (the caller then
 * writes that string instead). Writes past the end of `body` are dropped by the typed array and
 * show as an offset past its length, which the body's writer checks.
 */

/** Below this, a loop copies faster than `TypedArray.prototype.set`. */
const SHORT_COPY = 24;

/** `bytes` at `offset`. */
export function putBytes(body: Uint8Array, offset: number, bytes: Uint8Array): number {
  const n = bytes.length;
  if (n >= SHORT_COPY && offset + n <= body.length) {
    body.set(bytes, offset);
    return offset + n;
  }
  for (let i = 0; i < n; i++) body[offset + i] = bytes[i];
  return offset + n;
}

/** `text`'s UTF-8 bytes at `offset` when it is ASCII; -1 otherwise. */
export function putAscii(body: Uint8Array, offset: number, text: string): number {
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c > 0x7f) return -1;
    body[offset + i] = c;
  }
  return offset + n;
}

/** The decimal text of `n` (what `${n}` writes), when `n` is a non-negative safe integer; -1 otherwise. */
export function putInteger(body: Uint8Array, offset: number, n: number): number {
  if (!Number.isSafeInteger(n) || n < 0) return -1;
  let end = offset + 1;
  for (let power = 10; power <= n; power *= 10) end++;
  let at = end;
  let rest = n;
  do {
    const quotient = Math.floor(rest / 10);
    body[--at] = 0x30 + (rest - quotient * 10);
    rest = quotient;
  } while (rest > 0);
  return end;
}

/** The URL-safe base64 alphabet, as `Buffer`'s `base64url` writes it. */
const BASE64URL = Buffer.from('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_', 'latin1');

/** `bytes[0, length)` in URL-safe base64 without padding (as `toString('base64url')`), at `offset`. */
export function putBase64url(body: Uint8Array, offset: number, bytes: Uint8Array, length: number): number {
  const whole = length - (length % 3);
  let at = offset;
  let i = 0;
  for (; i < whole; i += 3) {
    const triple = (bytes[i] << 16) | (bytes[i + 1] << 8) | bytes[i + 2];
    body[at] = BASE64URL[triple >> 18];
    body[at + 1] = BASE64URL[(triple >> 12) & 0x3f];
    body[at + 2] = BASE64URL[(triple >> 6) & 0x3f];
    body[at + 3] = BASE64URL[triple & 0x3f];
    at += 4;
  }
  const left = length - i;
  if (left === 1) {
    const b = bytes[i];
    body[at] = BASE64URL[b >> 2];
    body[at + 1] = BASE64URL[(b & 0x03) << 4];
    at += 2;
  } else if (left === 2) {
    const pair = (bytes[i] << 8) | bytes[i + 1];
    body[at] = BASE64URL[pair >> 10];
    body[at + 1] = BASE64URL[(pair >> 4) & 0x3f];
    body[at + 2] = BASE64URL[(pair << 2) & 0x3f];
    at += 3;
  }
  return at;
}
