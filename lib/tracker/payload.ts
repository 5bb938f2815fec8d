import type { SnowplowError } from '../errors';
import type { TransactionLike } from './transaction';
import type { SubjectFields } from './subject';

/**
 * The lane an event waits in (not its type: a structured event of `trackStructEvent` is `custom`).
 * Billing events wait in a lane of their own that custom events never evict, and are leased first.
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
  /**
   * Track time, ms since the epoch: the `dtm` field, unless the event was tracked with a
   * `deviceTimestamp` (which is sent as `dtm` instead). The queue's age limits count from it.
   */
  readonly dtm: number;
  /** The serialised payload_data item, without `stm`. */
  readonly json: string;
  /**
   * The bytes the event takes in a request body (its `json` in UTF-8, the `stm` field the emitter
   * adds and the separator: see `bodyBytes`), when the tracker knows them without encoding; the
   * emitter computes them otherwise.
   */
  readonly bytes?: number;
}

/** `"stm":"<13 digits>",` added to each event on send, plus the comma between events. */
export const PER_EVENT_OVERHEAD = '"stm":"0000000000000",'.length + 1;

/**
 * `payload` with its body bytes known. Written out, not `{ ...payload, bytes }`: V8 gives an
 * object made by a spread and a new key a hidden class of its own (see `trackerEvent`).
 */
export function withBytes(payload: TrackedPayload, bytes: number): TrackedPayload {
  return { kind: payload.kind, eid: payload.eid, dtm: payload.dtm, json: payload.json, bytes };
}

/** The bytes an event of this payload text takes in a request body. */
export function bodyBytes(json: string): number {
  return Buffer.byteLength(json, 'utf8') + PER_EVENT_OVERHEAD;
}

/** The UTF-8 size of `text`. */
export function utf8Length(text: string): number {
  return Buffer.byteLength(text, 'utf8');
}

/**
 * How durable a tracked event became: `durable: false` for a store that keeps events in memory
 * only, `durable: true` once the event is committed (a SQLite file, a PostgreSQL table).
 */
export interface CommitOutcome {
  /** True once the event is committed to a file or table; false for a store in memory. */
  readonly durable: boolean;
}

/** The commit promise of an event a sink keeps in memory only (shared, already settled). */
export const NOT_DURABLE: Promise<CommitOutcome> = Promise.resolve({ durable: false });

/** The event's commit promise, from what `EventSink.enqueue` returned. */
export function commitOf(returned: unknown): Promise<CommitOutcome> {
  return returned instanceof Promise ? (returned as Promise<CommitOutcome>) : NOT_DURABLE;
}

/** How `EventSink.enqueue` treats a billing event that a durable store cannot commit. */
export interface EnqueueOptions {
  /**
   * `'throw'` (the default): `enqueue` throws the typed `StorageError` and queues nothing, so the
   * caller can fail or retry its business operation. `'hold'`, for a caller that has nobody to
   * tell (the `@TrackBillingEvent` interceptor, after the handler answered): the event is held in
   * memory and written again before the next send (dead-lettered at shutdown if it never is), its
   * whole payload is logged at error level, `onHeld` is told, and `enqueue` returns normally.
   */
  whenNotCommitted?: 'throw' | 'hold';
  /** With `'hold'`: told why the event could not be committed, before `enqueue` returns. */
  onHeld?(error: SnowplowError): void;
}

/** Where the tracker puts built events: the emitter, or the testing module's in-memory sink. */
export interface EventSink {
  /**
   * Queues the event for sending; throws `EmitterStoppedError` once stopped. `options` says what to
   * do with a billing event a durable store cannot commit (a sink without a store ignores it).
   * A returned `Promise` is the event's commit promise (see `TrackResult.committed`); anything
   * else (nothing, say) means the sink keeps events in memory only.
   */
  enqueue(payload: TrackedPayload, options?: EnqueueOptions): unknown;
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
  /**
   * Optional: the largest event `enqueue` accepts, in body bytes (see `bodyBytes`). The tracker
   * sends a billing event that would be larger without its correlation id rather than have it
   * refused: a correlation id never makes a bill fail.
   */
  readonly maxEventBytes?: number;
  /**
   * Optional: told when the tracker dropped the correlation id (`length` characters) of billing
   * event `eid` so that it fits `maxEventBytes`. Must not throw.
   */
  correlationIdDropped?(eid: string, length: number): void;
  /**
   * Optional: a sink that writes each event through the caller's open transaction `tx` (see
   * `Tracker.inTransaction`); its `enqueue` returns the insert's promise. Throws when the store
   * cannot write in a transaction.
   */
  inTransaction?(tx: TransactionLike): EventSink;
}

export interface PayloadContext {
  appId: string;
  namespace: string;
  userAgent: string;
  trackerVersion: string;
}

/** Reused for every encoding that fits, so that encoding allocates only the resulting string. */
const scratch = Buffer.allocUnsafe(64 * 1024);

/** Encodes JSON text the way the `ue_px` and `cx` fields carry it: URL-safe base64 without padding. */
export function encodeBase64(json: string): string {
  // A UTF-16 code unit takes at most 3 UTF-8 bytes.
  if (json.length * 3 > scratch.length) return Buffer.from(json, 'utf8').toString('base64url');
  const bytes = scratch.write(json, 0, 'utf8');
  return scratch.toString('base64url', 0, bytes);
}

/**
 * The base64 of `head` (0–2 bytes left over after a text already encoded to a whole 3-byte group)
 * followed by `text`'s UTF-8, through the same scratch buffer; appended to the earlier text's base64
 * it gives the base64 of the whole. Undefined when `text` may not fit: encode the whole instead.
 */
export function encodeBase64After(head: Uint8Array, text: string): string | undefined {
  if (head.length + text.length * 3 > scratch.length) return undefined;
  for (let i = 0; i < head.length; i++) scratch[i] = head[i];
  const end = head.length + scratch.write(text, head.length, 'utf8');
  return scratch.toString('base64url', 0, end);
}

/** Length of the unpadded base64 text of `bytes` bytes. */
export function base64Length(bytes: number): number {
  return Math.floor((bytes * 4 + 2) / 3);
}

/**
 * Writes payload_data items by string concatenation. The fields shared by every event of a
 * tracker are escaped once, here; per event only the type-specific fields are serialised.
 */
export class PayloadWriter {
  private readonly common: string;
  /** UTF-8 size of the common fields (the only part of a payload that may hold non-ASCII text besides the tail). */
  private readonly commonBytes: number;

  constructor(private readonly context: PayloadContext) {
    this.common = this.commonText('srv', context.userAgent);
    this.commonBytes = Buffer.byteLength(this.common, 'utf8');
  }

  /** The fields shared by the tracker's events, with this platform and user agent. */
  private commonText(platform: string, userAgent: string): string {
    const { namespace, appId, trackerVersion } = this.context;
    const fields: Array<[string, string]> = [
      ['p', platform],
      ['tna', namespace],
      ['aid', appId],
      ['tv', trackerVersion],
      ['ua', userAgent],
    ];
    return fields
      .filter(([, value]) => value !== '')
      .map(([key, value]) => `"${key}":${JSON.stringify(value)}`)
      .join(',');
  }

  /**
   * The item's text with a subject: its `p` and `ua` replace the tracker's, its other fields
   * (already wire texts, by wire key) follow `fields`.
   */
  textWith(eventType: string, eid: string, dtm: number, fields: string, subject: SubjectFields | undefined): string {
    if (subject === undefined) return this.text(eventType, eid, dtm, fields);
    const { p, ua } = subject;
    const common =
      p === undefined && ua === undefined ? this.common : this.commonText(p ?? 'srv', ua ?? this.context.userAgent);
    let tail = fields;
    for (const key in subject) {
      if (key !== 'p' && key !== 'ua') tail += `,"${key}":${JSON.stringify(subject[key])}`;
    }
    return `{"e":"${eventType}","eid":"${eid}","dtm":"${dtm}",${common},${tail}}`;
  }

  /**
   * The body bytes of `textWith(...)` (see `bodyBytes`), from the UTF-8 size of `fields`: the
   * subject's fields are measured as `textWith` writes them (its keys are ASCII wire keys).
   */
  bytesOfWith(
    eventType: string,
    eid: string,
    dtm: number,
    fieldsBytes: number,
    subject: SubjectFields | undefined,
  ): number {
    let bytes = this.bytesOf(eventType, eid, dtm, fieldsBytes);
    if (subject === undefined) return bytes;
    const { p, ua } = subject;
    if (p !== undefined || ua !== undefined) {
      bytes += utf8Length(this.commonText(p ?? 'srv', ua ?? this.context.userAgent)) - this.commonBytes;
    }
    for (const key in subject) {
      // ,"<key>":<value as JSON>
      if (key !== 'p' && key !== 'ua') bytes += key.length + 4 + utf8Length(JSON.stringify(subject[key]));
    }
    return bytes;
  }

  /** The item's text; `fields` is the already-serialised tail, e.g. `"ue_px":"..."`, and must not be empty. */
  text(eventType: string, eid: string, dtm: number, fields: string): string {
    return `{"e":"${eventType}","eid":"${eid}","dtm":"${dtm}",${this.common},${fields}}`;
  }

  /** `text(...)` without its opening `{` (see `CustomEventPayload.tail`). */
  tail(eventType: string, eid: string, dtm: number, fields: string): string {
    return `"e":"${eventType}","eid":"${eid}","dtm":"${dtm}",${this.common},${fields}}`;
  }

  /**
   * The body bytes of `text(...)` (see `bodyBytes`), from the UTF-8 size of `fields`: the rest is
   * ASCII but the common fields, whose size is known.
   */
  bytesOf(eventType: string, eid: string, dtm: number, fieldsBytes: number): number {
    // {"e":"<type>","eid":"<eid>","dtm":"<dtm>",<common>,<fields>}
    const fixed = '{"e":"'.length + '","eid":"'.length + '","dtm":"'.length + '",'.length + ','.length + '}'.length;
    return fixed + eventType.length + eid.length + digits(dtm) + this.commonBytes + fieldsBytes + PER_EVENT_OVERHEAD;
  }
}

function digits(n: number): number {
  // Milliseconds since the epoch have 13 digits until the year 2286.
  return n >= 1e12 && n < 1e13 ? 13 : String(n).length;
}

/** Serialises `"key":"value"` pairs, leaving out unset and empty values as the protocol asks. */
export function serialiseFields(fields: ReadonlyArray<readonly [string, string | undefined]>): string {
  let out = '';
  for (const [key, value] of fields) {
    if (value === undefined || value === '') continue;
    out += `${out ? ',' : ''}"${key}":${JSON.stringify(value)}`;
  }
  return out;
}
