import { decodeEvent, DecodeOptions, EventDecodeResult } from './event-decoder';
import type { EventError } from './types';

/**
 * Decodes the one event of a GET pixel request from its query parameters. A parameter given
 * twice is an error (the first value is kept in `raw`).
 */
export function decodePixelQuery(query: URLSearchParams, options: DecodeOptions = {}): EventDecodeResult {
  const values = new Map<string, string>();
  const repeated: EventError[] = [];
  for (const [key, value] of query) {
    if (!values.has(key)) values.set(key, value);
    else if (!repeated.some((error) => error.field === key)) {
      repeated.push({ field: key, message: `${key} is given more than once in the query string` });
    }
  }
  const raw: Record<string, string> = Object.fromEntries(values);
  const decoded = decodeEvent(raw, options);
  if (repeated.length === 0) return decoded;
  const errors = decoded.ok ? repeated : [...repeated, ...decoded.event.errors];
  return { ok: false, event: { raw, errors, receivedAt: decoded.event.receivedAt } };
}

/** A 1×1 transparent GIF, the answer Snowplow collectors give to a pixel request. */
export const TRANSPARENT_GIF = Buffer.from([
  // "GIF89a", 1×1 logical screen, 2-colour global colour table
  0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 0x01, 0x00, 0x01, 0x00, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff,
  // graphic control extension: colour 0 is transparent
  0x21, 0xf9, 0x04, 0x01, 0x00, 0x00, 0x00, 0x00,
  // image descriptor 1×1, then LZW data (min code size 2: clear, index 0, end) and trailer
  0x2c, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x02, 0x02, 0x44, 0x01, 0x00, 0x3b,
]);
