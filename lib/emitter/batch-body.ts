import type { QueuedEvent } from '../storage/queued-event';
import { SCHEMAS } from '../tracker/schemas';

const ENVELOPE_HEAD = `{"schema":"${SCHEMAS.payloadData}","data":[`;
const ENVELOPE_TAIL = ']}';

/** Bytes of the request envelope around the events. */
export const ENVELOPE_BYTES = Buffer.byteLength(`${ENVELOPE_HEAD}${ENVELOPE_TAIL}`);

export { PER_EVENT_OVERHEAD } from '../tracker/payload';

/** Serialises a batch: the payload_data envelope with `stm` set on every event. */
export function serialiseBatch(events: readonly QueuedEvent[], stm: number): string {
  const stmField = `{"stm":"${stm}",`;
  let body = ENVELOPE_HEAD;
  for (let i = 0; i < events.length; i++) {
    body += (i === 0 ? stmField : `,${stmField}`) + events[i].json.slice(1);
  }
  return body + ENVELOPE_TAIL;
}
