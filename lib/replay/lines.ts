import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import { legacyLane } from '../tracker/lane';
import type { TrackedPayload } from '../tracker/payload';
import { isPlainObject } from '../utils/values';

/** Bytes read from the file at a time: the memory a scan of the file takes, whatever its size. */
export const CHUNK_BYTES = 128 * 1024;
const NEWLINE = 0x0a;

/** One non-blank line of the file, as read. */
export interface FileLine {
  /** Byte offset of its first byte in the file. */
  offset: number;
  /** 1-based line number in the file (blank lines counted), for messages. */
  lineNo: number;
  /** Its bytes without the newline; valid only until the next line is read (copy to keep). */
  bytes: Buffer;
}

/**
 * The non-blank lines of `path`, read a chunk at a time: memory is bounded by `CHUNK_BYTES` plus the
 * longest line. Lines starting at or after `limit` are not read. `onBytes` sees every chunk read,
 * with its offset in the file (to hash the part of the file a replay read).
 */
export async function* readLines(
  path: string,
  limit = Number.POSITIVE_INFINITY,
  onBytes?: (bytes: Buffer, position: number) => void,
): AsyncGenerator<FileLine> {
  const handle = await open(path, 'r');
  try {
    /** The unfinished last line of what was read, and its offset in the file. */
    let carry: Buffer = Buffer.alloc(0);
    let carryOffset = 0;
    let position = 0;
    let lineNo = 0;
    const chunk = Buffer.allocUnsafe(CHUNK_BYTES);
    for (;;) {
      const { bytesRead } = await handle.read(chunk, 0, CHUNK_BYTES, position);
      if (bytesRead === 0) break;
      const data = chunk.subarray(0, bytesRead);
      onBytes?.(data, position);
      if (carry.length === 0) carryOffset = position;
      const buffer = carry.length === 0 ? data : Buffer.concat([carry, data]);
      position += bytesRead;
      let start = 0;
      for (let end = buffer.indexOf(NEWLINE); end !== -1; end = buffer.indexOf(NEWLINE, start)) {
        const offset = carryOffset + start;
        if (offset >= limit) return;
        lineNo++;
        const bytes = buffer.subarray(start, end);
        if (!isBlank(bytes)) yield { offset, lineNo, bytes };
        start = end + 1;
      }
      // The unfinished line is copied out of the chunk buffer, which the next read overwrites.
      carry = Buffer.from(buffer.subarray(start));
      carryOffset += start;
    }
    if (carry.length > 0 && carryOffset < limit) {
      lineNo++;
      if (!isBlank(carry)) yield { offset: carryOffset, lineNo, bytes: carry };
    }
  } finally {
    await handle.close();
  }
}

function isBlank(bytes: Buffer): boolean {
  for (let i = 0; i < bytes.length; i++) {
    const byte = bytes[i];
    if (byte !== 0x20 && byte !== 0x09 && byte !== 0x0d && byte !== 0x0b && byte !== 0x0c) return false;
  }
  return true;
}

/** What identifies a line in the journal: its length and a hash of its bytes (with its offset, kept apart). */
export function lineKey(bytes: Buffer): string {
  return `${bytes.length}:${createHash('sha1').update(bytes).digest('hex').slice(0, 20)}`;
}

const EID_HEAD = Buffer.from('{"eid":"');

/**
 * The eid of a line as the dead-letter file writes it (`{"eid":"<id>",...`), read without parsing
 * the line: undefined when the line starts otherwise or the id holds anything but letters, digits,
 * `-` and `_`. Saves the first read of the file a JSON.parse per line; `parseRecord` decides later.
 */
export function quickEid(bytes: Buffer): string | undefined {
  if (bytes.length < EID_HEAD.length + 2 || bytes.compare(EID_HEAD, 0, EID_HEAD.length, 0, EID_HEAD.length) !== 0) {
    return undefined;
  }
  const end = bytes.indexOf(0x22, EID_HEAD.length);
  if (end <= EID_HEAD.length || end > EID_HEAD.length + 128) return undefined;
  for (let i = EID_HEAD.length; i < end; i++) {
    const c = bytes[i];
    const ok =
      (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c === 0x2d || c === 0x5f;
    if (!ok) return undefined;
  }
  return bytes.toString('latin1', EID_HEAD.length, end);
}

/** A line that is a dead-letter record, as parsed. */
export interface ParsedRecord {
  eid: string;
  kind: 'custom' | 'billing';
  /** Its payload, `stm` left out. */
  payload: Record<string, string>;
}

/** Why a line is not a record that can be sent as it was. */
export type NotARecord = 'not JSON' | 'not a dead-letter record';

/**
 * The record of one line, or why it is none: a record is a JSON object with a non-empty `eid` and
 * a `payload` of strings whose `e` is set, whose `eid` matches and whose `dtm` is a timestamp in ms.
 * A `stm` in the payload is left out. Its lane is the line's `kind`; a line without one (written
 * before lanes were) is billing only when it carries a billable_usage entity (`legacyLane`).
 */
export function parseRecord(bytes: Buffer): ParsedRecord | NotARecord {
  let record: unknown;
  try {
    record = JSON.parse(bytes.toString('utf8'));
  } catch {
    return 'not JSON';
  }
  if (!isPlainObject(record) || !isPlainObject(record.payload)) return 'not a dead-letter record';
  const { eid, kind } = record;
  if (typeof eid !== 'string' || eid === '') return 'not a dead-letter record';
  let payload = record.payload;
  for (const field of Object.keys(payload)) if (typeof payload[field] !== 'string') return 'not a dead-letter record';
  if (Object.hasOwn(payload, 'stm')) {
    // Object.fromEntries defines own properties, so even a "__proto__" key stays a plain field.
    payload = Object.fromEntries(Object.entries(payload).filter(([field]) => field !== 'stm'));
  }
  const fields = payload as Record<string, string>;
  if (fields.eid !== eid || !fields.e || !/^[0-9]{1,15}$/.test(fields.dtm ?? '')) return 'not a dead-letter record';
  return {
    eid,
    // A line without a lane comes from before lanes were written: see legacyLane (never by `e` alone).
    kind: kind === 'custom' || kind === 'billing' ? kind : legacyLane(fields),
    payload: fields,
  };
}

/** The event a record sends: its payload as it was written (without `stm`). */
export function toEvent(record: ParsedRecord): TrackedPayload {
  const { eid, kind, payload } = record;
  return { kind, eid, dtm: Number(payload.dtm), json: JSON.stringify(payload) };
}

/** Same for two records exactly when they would send the same event. */
export function fingerprint(record: ParsedRecord): string {
  return createHash('sha1')
    .update(`${record.kind}\n${toEvent(record).json}`)
    .digest('hex');
}
