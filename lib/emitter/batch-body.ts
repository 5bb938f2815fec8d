import type { QueuedEvent } from '../storage/queued-event';
import { CustomEventPayload } from '../tracker/custom-event';
import { SCHEMAS } from '../tracker/schemas';

const ENVELOPE_HEAD = `{"schema":"${SCHEMAS.payloadData}","data":[`;
const ENVELOPE_TAIL = ']}';
/** A UTF-8 character takes at most 4 bytes: room for one more shows a text longer than the sizes said. */
const SLACK = 4;

/** Bytes of the request envelope around the events. */
export const ENVELOPE_BYTES = Buffer.byteLength(`${ENVELOPE_HEAD}${ENVELOPE_TAIL}`);

export { PER_EVENT_OVERHEAD } from '../tracker/payload';

/**
 * Serialises a batch into the request body: the payload_data envelope with `stm` set on every
 * event. The body's text is joined from the events' texts (V8 joins strings without copying them)
 * and written into a Buffer in one call: the events' `bytes` say how big it is, so no string is
 * measured and the HTTP client converts nothing; should an event's `bytes` be wrong, the body is
 * written again at its true size, so a batch is never cut short.
 *
 * A `trackEvent` event without options (`CustomEventPayload`) gives its `tail`, which encodes
 * only its props: per event, writing each `json` (its whole `ue_px` encoded, the text flattened
 * twice) and three `Buffer.write` calls cost ~7,000 instructions (bench/README.md, issue 27).
 */
export function serialiseBatch(events: readonly QueuedEvent[], stm: number): Buffer {
  const first = `{"stm":"${stm}",`;
  const next = `,${first}`;
  let size = ENVELOPE_BYTES - 1;
  let text = ENVELOPE_HEAD;
  let measured = true;
  for (let i = 0; i < events.length; i++) {
    const event = events[i];
    size += event.bytes;
    text += i === 0 ? first : next;
    if (event instanceof CustomEventPayload) {
      text += event.tail;
    } else {
      measured = false;
      text += event.json.slice(1);
    }
  }
  text += ENVELOPE_TAIL;
  size = Math.max(size, ENVELOPE_BYTES);
  // An `stm` of other than 13 digits changes every event's size: written at its true size below.
  if (first.length === 23) {
    // Every event's size measured by the tracker itself (never read from a store), and as many
    // bytes as characters: the text is ASCII (any other character takes more bytes in UTF-8 than
    // units in a string), and Latin-1 writes it as UTF-8 would, copying the joined strings
    // straight into the Buffer (UTF-8 first makes them one string, then encodes it).
    if (measured && text.length === size) {
      const body = Buffer.allocUnsafe(size);
      body.write(text, 0, 'latin1');
      return body;
    }
    const body = Buffer.allocUnsafe(size + SLACK);
    // Exactly `size` bytes written into room for more: the text is exactly that long.
    if (body.write(text, 0, 'utf8') === size) return body.subarray(0, size);
  }
  return Buffer.from(text, 'utf8');
}
