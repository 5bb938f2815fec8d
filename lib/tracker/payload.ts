/**
 * What an event is for. Billing events wait in a lane of their own that custom events never
 * evict, and are leased first.
 */
export type EventKind = 'custom' | 'billing';

/**
 * One event in the tracker protocol, already serialised: `json` is the `payload_data` item
 * (every value a string) without `stm`, which the emitter adds on every send attempt.
 */
export interface TrackedPayload {
  /** Billing or custom: the lane the event waits in. */
  readonly kind: EventKind;
  /** The Snowplow event id (uuid v4), fixed for the event's life. */
  readonly eid: string;
  /** Track time, ms since the epoch (the `dtm` field). */
  readonly dtm: number;
  /** The serialised payload_data item, without `stm`. */
  readonly json: string;
}

/** Where the tracker puts built events: the emitter, or the testing module's in-memory sink. */
export interface EventSink {
  /** Queues the event for sending; throws `EmitterStoppedError` once stopped. */
  enqueue(payload: TrackedPayload): void;
  /**
   * Optional: send what is queued now instead of waiting (the `Emitter` wakes its send loop,
   * skipping `lingerMs` and cutting a backoff sleep short). Returns at once. `Tracker.flush()`
   * calls it when present.
   */
  flush?(): void;
  /**
   * Optional: stop accepting events and release resources; resolves once stopped. Safe to call
   * twice. `Tracker.stop()` calls it when present.
   */
  stop?(): Promise<void>;
}

export interface PayloadContext {
  appId: string;
  namespace: string;
  userAgent: string;
  trackerVersion: string;
}

/** Encodes JSON text the way the `ue_px` and `cx` fields carry it: URL-safe base64 without padding. */
export function encodeBase64(json: string): string {
  return Buffer.from(json, 'utf8').toString('base64url');
}

/** Where the eid starts in a payload written by PayloadWriter, after the event type. */
const EID_OFFSET = '{"e":"'.length + '","eid":"'.length;

/**
 * Writes payload_data items by string concatenation. The fields shared by every event of a
 * tracker are escaped once, here; per event only the type-specific fields are serialised.
 */
export class PayloadWriter {
  private readonly common: string;

  constructor(context: PayloadContext) {
    const fields: Array<[string, string]> = [
      ['p', 'srv'],
      ['tna', context.namespace],
      ['aid', context.appId],
      ['tv', context.trackerVersion],
      ['ua', context.userAgent],
    ];
    this.common = fields
      .filter(([, value]) => value !== '')
      .map(([key, value]) => `"${key}":${JSON.stringify(value)}`)
      .join(',');
  }

  /** `fields` is the already-serialised tail, e.g. `"ue_px":"..."`; it must not be empty. */
  write(kind: EventKind, eventType: string, eid: string, dtm: number, fields: string): TrackedPayload {
    const json = `{"e":"${eventType}","eid":"${eid}","dtm":"${dtm}",${this.common},${fields}}`;
    // randomUUID() returns a tree of string pieces (~500 B of heap); a slice of the payload text
    // is a flat 36-character view, so a queued event keeps one copy of its id, not two.
    const start = EID_OFFSET + eventType.length;
    return { kind, eid: json.slice(start, start + eid.length), dtm, json };
  }
}

/** Serialises `"key":"value"` pairs, leaving out empty values as the protocol asks. */
export function serialiseFields(fields: ReadonlyArray<readonly [string, string]>): string {
  let out = '';
  for (const [key, value] of fields) {
    if (value === '') continue;
    out += `${out ? ',' : ''}"${key}":${JSON.stringify(value)}`;
  }
  return out;
}
