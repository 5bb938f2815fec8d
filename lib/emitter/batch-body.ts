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

/** Events joined into one string before it is written: small enough to stay in the young generation. */
const EVENTS_PER_CHUNK = 64;

/**
 * Serialises a batch into the request body: the payload_data envelope with `stm` set on every
 * event. The events' `bytes` say how big the body is, so it is written straight into one Buffer
 * of that size (no conversion by the HTTP client). The text is joined from the events' texts
 * (V8 joins strings without copying them) and written 64 events at a time: one `Buffer.write` per
 * chunk, not three per event, and never one string of the whole body (a 500 KB string of a batch
 * of 1,000 is allocated where the GC only frees it late: +15 MB of peak RSS in a 100,000-event
 * burst, bench row 2). Should an event's `bytes` be wrong, the body is written again at its true
 * size, so a batch is never cut short.
 *
 * A `trackEvent` event without options (`CustomEventPayload`) gives its `tail`, which encodes
 * only its props: per event, writing each `json` (its whole `ue_px` encoded, the text flattened
 * twice) and three `Buffer.write` calls cost ~7,000 instructions (bench/README.md, issue 27).
 */
export function serialiseBatch(events: readonly QueuedEvent[], stm: number): Buffer {
  const first = `{"stm":"${stm}",`;
  // An `stm` of other than 13 digits changes every event's size: written at its true size.
  if (first.length !== 23) return wholeText(events, first);
  let size = ENVELOPE_BYTES - 1;
  for (let i = 0; i < events.length; i++) size += events[i].bytes;
  size = Math.max(size, ENVELOPE_BYTES);
  const next = `,${first}`;
  // Room for one more character: a text longer than the sizes said writes past `size`.
  const body = Buffer.allocUnsafe(size + SLACK);
  let offset = 0;
  let text = ENVELOPE_HEAD;
  let bytes = ENVELOPE_HEAD.length;
  let measured = true;
  for (let i = 0; i < events.length; i++) {
    const event = events[i];
    if (i === 0) {
      text += first;
      bytes += event.bytes - 1;
    } else {
      text += next;
      bytes += event.bytes;
    }
    if (event instanceof CustomEventPayload) {
      text += event.tail;
    } else {
      measured = false;
      text += event.json.slice(1);
    }
    if (i === events.length - 1) {
      text += ENVELOPE_TAIL;
      bytes += ENVELOPE_TAIL.length;
    } else if ((i + 1) % EVENTS_PER_CHUNK !== 0) {
      continue;
    }
    // Every size measured by the tracker itself (never read from a store), and as many bytes as
    // characters: the chunk is ASCII (any other character takes more bytes in UTF-8 than units in
    // a string), and Latin-1 writes it as UTF-8 would, copying the joined strings straight in.
    const written = body.write(text, offset, measured && text.length === bytes ? 'latin1' : 'utf8');
    if (written !== bytes) return wholeText(events, first);
    offset += written;
    text = '';
    bytes = 0;
    measured = true;
  }
  if (events.length === 0) offset = body.write(ENVELOPE_HEAD + ENVELOPE_TAIL, 0, 'latin1');
  return offset === size ? body.subarray(0, size) : wholeText(events, first);
}

/** The body from the events' texts, at its true size (a stored size that does not match its text). */
function wholeText(events: readonly QueuedEvent[], first: string): Buffer {
  let text = ENVELOPE_HEAD;
  for (let i = 0; i < events.length; i++) text += (i === 0 ? first : `,${first}`) + events[i].json.slice(1);
  return Buffer.from(text + ENVELOPE_TAIL, 'utf8');
}
