import type { QueuedEvent } from '../storage/queued-event';
import { SCHEMAS } from '../tracker/schemas';

const ENVELOPE_HEAD = `{"schema":"${SCHEMAS.payloadData}","data":[`;
const ENVELOPE_TAIL = ']}';

/** Bytes of the request envelope around the events. */
export const ENVELOPE_BYTES = Buffer.byteLength(`${ENVELOPE_HEAD}${ENVELOPE_TAIL}`);

export { PER_EVENT_OVERHEAD } from '../tracker/payload';

/**
 * Serialises a batch into the request body: the payload_data envelope with `stm` set on every
 * event. The events' `bytes` say how big the body is, so it is written straight into one Buffer
 * of that size (no string of the whole body, no conversion by the HTTP client); should an event's
 * `bytes` be wrong, the body is built as a string instead, so a batch is never cut short.
 */
export function serialiseBatch(events: readonly QueuedEvent[], stm: number): Buffer {
  const stmField = `{"stm":"${stm}",`;
  let size = ENVELOPE_BYTES - 1;
  for (let i = 0; i < events.length; i++) size += events[i].bytes;
  const body = Buffer.allocUnsafe(Math.max(size, ENVELOPE_BYTES));
  let offset = body.write(ENVELOPE_HEAD, 0, 'latin1');
  const texts: string[] = new Array<string>(events.length);
  for (let i = 0; i < events.length; i++) {
    const json = events[i].json;
    texts[i] = json;
    if (i > 0) offset += body.write(',', offset, 'latin1');
    offset += body.write(stmField, offset, 'latin1');
    offset += body.write(json.slice(1), offset, 'utf8');
  }
  // Written whole, and nothing left over: every `bytes` was right.
  const tail = body.write(ENVELOPE_TAIL, offset, 'latin1');
  if (tail === ENVELOPE_TAIL.length && offset + tail === body.length && stmField.length === 23) return body;
  // A stored size that does not match its text (or an `stm` of other than 13 digits).
  let text = ENVELOPE_HEAD;
  for (let i = 0; i < texts.length; i++) text += (i === 0 ? stmField : `,${stmField}`) + texts[i].slice(1);
  return Buffer.from(text + ENVELOPE_TAIL, 'utf8');
}
