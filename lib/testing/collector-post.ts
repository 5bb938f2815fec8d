import type { DecodeOptions } from './event-decoder';
import { parseJson } from './base64-json';
import { checkPayloadEnvelope, decodePayloadBody } from './payload-body';
import type { DecodeResult } from './types';

/** What the collector answers a POST with, and what it records. */
export interface PostOutcome {
  status: number;
  result: DecodeResult;
}

const RAW_TEXT_LIMIT = 8192;
const UTF8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Decodes a tracker POST: 415 for a content type other than JSON in UTF-8, 400 for a body that is
 * not UTF-8 JSON or whose envelope is wrong (one bad record for the request), otherwise 200 with
 * each event good or bad on its own, as Snowplow's collector accepts the request and leaves the
 * event checks to enrich.
 */
export function decodeCollectorPost(
  contentType: string | undefined,
  body: Buffer,
  options: DecodeOptions = {},
): PostOutcome {
  const receivedAt = options.receivedAt ?? new Date();
  const reject = (status: number, raw: unknown, message: string): PostOutcome => ({
    status,
    result: { good: [], bad: [{ raw, errors: [{ field: 'body', message }], receivedAt: receivedAt.toISOString() }] },
  });
  const typeProblem = checkJsonContentType(contentType);
  if (typeProblem) return reject(415, previewText(body), typeProblem);
  let text: string;
  try {
    text = UTF8.decode(body);
  } catch {
    return reject(400, previewText(body), 'body is not valid UTF-8');
  }
  const parsed = parseJson(text);
  if (!parsed.ok) return reject(400, previewText(body), `body ${parsed.message}`);
  const envelope = checkPayloadEnvelope(parsed.value, options.registry);
  const result = decodePayloadBody(parsed.value, { ...options, receivedAt });
  return { status: envelope.ok ? 200 : 400, result };
}

/** Why a Content-Type header is not `application/json` (charset utf-8 or none); else undefined. */
export function checkJsonContentType(header: string | undefined): string | undefined {
  if (!header) return 'Content-Type is missing: send application/json; charset=utf-8';
  const [mediaType, ...params] = header.split(';').map((part) => part.trim().toLowerCase());
  if (mediaType !== 'application/json') return `Content-Type must be application/json, got "${header}"`;
  const charset = params
    .find((param) => param.startsWith('charset='))
    ?.slice('charset='.length)
    .replace(/"/g, '');
  if (charset !== undefined && charset !== 'utf-8' && charset !== 'utf8') {
    return `Content-Type charset must be utf-8, got "${charset}"`;
  }
  return undefined;
}

/** The body as text for a bad record, cut at 8 KiB. */
function previewText(body: Buffer): string {
  const text = body.subarray(0, RAW_TEXT_LIMIT).toString('utf8');
  return body.length > RAW_TEXT_LIMIT ? `${text}… (${body.length} bytes in all)` : text;
}
