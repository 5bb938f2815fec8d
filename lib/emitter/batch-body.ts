import type { QueuedEvent } from '../storage/queued-event';
import { CustomEventPayload } from '../tracker/custom-event';
import { SCHEMAS } from '../tracker/schemas';

const ENVELOPE_HEAD = `{"schema":"${SCHEMAS.payloadData}","data":[`;
const ENVELOPE_TAIL = ']}';
const COMMA = 0x2c;

/** Bytes of the request envelope around the events. */
export const ENVELOPE_BYTES = Buffer.byteLength(`${ENVELOPE_HEAD}${ENVELOPE_TAIL}`);

export { PER_EVENT_OVERHEAD } from '../tracker/payload';

/**
 * Serialises a batch into the request body: the payload_data envelope with `stm` set on every
 * event. The events' `bytes` say how big the body is, so it is written straight into one Buffer
 * of that size (no string of the whole body, no conversion by the HTTP client); should an event's
 * `bytes` be wrong, the body is built as a string instead, so a batch is never cut short.
 *
 * A `trackEvent` event without options (`CustomEventPayload`) writes its bytes into the body
 * itself (`writeTail`), without making its `json` text: per event, that text's three strings,
 * its base64 `ue_px` and the three `Buffer.write` calls cost ~7,000 instructions, and the direct
 * write ~1,500 (bench/README.md, issue 27). Other events' `json` is written as it is.
 */
export function serialiseBatch(events: readonly QueuedEvent[], stm: number): Buffer {
  const stmField = `{"stm":"${stm}",`;
  const stmBytes = Buffer.from(stmField, 'latin1');
  let size = ENVELOPE_BYTES - 1;
  for (let i = 0; i < events.length; i++) size += events[i].bytes;
  const body = Buffer.allocUnsafe(Math.max(size, ENVELOPE_BYTES));
  let offset = body.write(ENVELOPE_HEAD, 0, 'latin1');
  for (let i = 0; i < events.length; i++) {
    if (i > 0) body[offset++] = COMMA;
    offset = putStm(body, offset, stmBytes);
    // Past the end (a stored size too small): the string below is written instead.
    if (offset > body.length) break;
    const event = events[i];
    const end = event instanceof CustomEventPayload ? event.writeTail(body, offset) : -1;
    offset = end < 0 ? offset + body.write(event.json.slice(1), offset, 'utf8') : end;
  }
  // Written whole, and nothing left over: every `bytes` was right.
  const tail = offset < body.length ? body.write(ENVELOPE_TAIL, offset, 'latin1') : 0;
  if (tail === ENVELOPE_TAIL.length && offset + tail === body.length && stmField.length === 23) return body;
  // A stored size that does not match its text (or an `stm` of other than 13 digits).
  let text = ENVELOPE_HEAD;
  for (let i = 0; i < events.length; i++) text += (i === 0 ? stmField : `,${stmField}`) + events[i].json.slice(1);
  return Buffer.from(text + ENVELOPE_TAIL, 'utf8');
}

/** `{"stm":"<stm>",` at `offset` (a short copy: a loop costs less than a call). */
function putStm(body: Buffer, offset: number, stmBytes: Buffer): number {
  const n = stmBytes.length;
  for (let i = 0; i < n; i++) body[offset + i] = stmBytes[i];
  return offset + n;
}
