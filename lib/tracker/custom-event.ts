import { putAscii, putBase64url, putBytes } from './body-writer';
import { NO_ENTITIES, SelfDescribingData, TrackerEvent } from './event';
import { base64Length, encodeBase64, PayloadWriter, TrackedPayload } from './payload';
import { SCHEMAS } from './schemas';
import { jsonObjectText, validateEventName } from '../validation/event-rules';

export { MAX_EVENT_NAME_LENGTH, validateEventName } from '../validation/event-rules';

const WRAPPER_HEAD = `{"schema":"${SCHEMAS.unstructEvent}","data":{"schema":"${SCHEMAS.customEvent}","data":`;
const WRAPPER_TAIL = '}}';
/** The fixed bytes of the wrapper: head, `{"name":`, `}` and tail (all ASCII). */
const WRAPPER_BYTES = WRAPPER_HEAD.length + '{"name":'.length + '}'.length + WRAPPER_TAIL.length;
const PROPS_KEY = ',"props":';
/** `"ue_px":"` and the closing quote around the base64 text. */
const UE_PX_BYTES = '"ue_px":"'.length + 1;

/** A validated event name, quoted for JSON, with its UTF-8 size. */
interface QuotedName {
  readonly text: string;
  readonly bytes: number;
  /**
   * The `ue_px` text of an event of this name up to its props, as far as it is fixed: the base64 of
   * the UTF-8 of `WRAPPER_HEAD{"name":<text>`, to its last whole 3 bytes (base64 writes 3 bytes as
   * 4 characters, so what follows is encoded on its own and appended), in ASCII bytes.
   */
  readonly head64: Uint8Array;
  /** The 0 to 2 bytes of that UTF-8 after the last whole 3: encoded with what follows. */
  readonly rest: Uint8Array;
}

function quoted(text: string): QuotedName {
  const head = Buffer.from(`${WRAPPER_HEAD}{"name":${text}`, 'utf8');
  const whole = head.length - (head.length % 3);
  return {
    text,
    bytes: Buffer.byteLength(text, 'utf8'),
    head64: Buffer.from(head.subarray(0, whole).toString('base64url'), 'latin1'),
    rest: Uint8Array.from(head.subarray(whole)),
  };
}

/** Names are constants at call sites: each is validated and quoted once (bounded, so dynamic names cannot grow it). */
const quotedNames = new Map<string, QuotedName>();
const MAX_CACHED_NAMES = 1_000;

function quotedName(name: string): QuotedName {
  let known = quotedNames.get(name);
  if (known === undefined) {
    validateEventName(name);
    known = quoted(JSON.stringify(name));
    if (quotedNames.size >= MAX_CACHED_NAMES) quotedNames.clear();
    quotedNames.set(name, known);
  }
  return known;
}

/**
 * A custom event tracked without options, as it waits in the queue: its id, time, name and props'
 * JSON text, taken when it was tracked (later changes to the props object change nothing). Its
 * payload text, with the base64 `ue_px`, is written only when it is read (when the event is sent
 * or stored in a file): a queued custom event holds a few small strings, not its whole payload,
 * and tracking does not pay for the encoding. Its `bytes` are known without encoding.
 *
 * It is a `TrackerEvent` like any other (no entities, subject or timestamps): its `json` is what
 * `encodeEvent` writes for it, by a shorter path.
 */
export class CustomEventPayload implements TrackedPayload, TrackerEvent {
  readonly bytes: number;
  /** Failed send attempts (the emitter queues this object as it is). */
  attempts = 0;

  constructor(
    private readonly writer: PayloadWriter,
    readonly eid: string,
    readonly dtm: number,
    private readonly name: QuotedName,
    /** The props' JSON text, or undefined for an event without props. */
    private readonly props: string | undefined,
    propsBytes: number,
  ) {
    const inner = name.bytes + (props === undefined ? 0 : PROPS_KEY.length + propsBytes);
    this.bytes = writer.bytesOf('ue', eid, dtm, UE_PX_BYTES + base64Length(WRAPPER_BYTES + inner));
  }

  /** Always `custom`. */
  get kind(): 'custom' {
    return 'custom';
  }

  /** Always `custom`. */
  get lane(): 'custom' {
    return 'custom';
  }

  get trackedAt(): number {
    return this.dtm;
  }

  /** The custom_event data: `{"name":...}` with its props, if any. */
  get data(): SelfDescribingData {
    return { type: 'ue', schema: SCHEMAS.customEvent, json: customEventJson(this.name, this.props) };
  }

  get entities(): typeof NO_ENTITIES {
    return NO_ENTITIES;
  }

  get subject(): undefined {
    return undefined;
  }

  get trueTimestamp(): undefined {
    return undefined;
  }

  get deviceTimestamp(): undefined {
    return undefined;
  }

  /** The payload_data item, written now. */
  get json(): string {
    const uePx = encodeBase64(`${WRAPPER_HEAD}${customEventJson(this.name, this.props)}${WRAPPER_TAIL}`);
    return this.writer.text('ue', this.eid, this.dtm, `"ue_px":"${uePx}"`);
  }

  /**
   * The UTF-8 bytes of `json` without its opening `{`, written into `body` at `offset` (what a
   * request body holds after the event's `{"stm":"...",`), without making `json`: the fixed head
   * of `ue_px` comes encoded from the name's cache, and only the props and the closing braces are
   * encoded here. Returns the offset after them, or -1 when the caller has to write
   * `json.slice(1)` instead (see `PayloadWriter.writeHead`, or props too large for the scratch).
   */
  writeTail(body: Uint8Array, offset: number): number {
    let at = this.writer.writeHead(body, offset, 'ue', this.eid, this.dtm);
    if (at < 0) return -1;
    const name = this.name;
    const props = this.props;
    // The bytes after the name's encoded head: its 0-2 left over, the props, `}` and WRAPPER_TAIL.
    let n = putBytes(tailScratch, 0, name.rest);
    if (props !== undefined) {
      if (props.length * 3 + PROPS_KEY_BYTES.length + 8 > tailScratch.length) return -1;
      n = putBytes(tailScratch, n, PROPS_KEY_BYTES);
      const ascii = putAscii(tailScratch, n, props);
      n = ascii < 0 ? n + tailScratch.write(props, n, 'utf8') : ascii;
    }
    tailScratch[n] = CLOSE_BRACE;
    tailScratch[n + 1] = CLOSE_BRACE;
    tailScratch[n + 2] = CLOSE_BRACE;
    at = putBytes(body, putBytes(body, at, UE_PX_OPEN), name.head64);
    at = putBase64url(body, at, tailScratch, n + 3);
    body[at] = QUOTE;
    body[at + 1] = CLOSE_BRACE;
    return at + 2;
  }
}

/** Where `writeTail` puts the bytes it encodes (props of up to ~21,000 characters; larger ones go by `json`). */
const tailScratch = Buffer.allocUnsafeSlow(64 * 1024);
const PROPS_KEY_BYTES = Buffer.from(PROPS_KEY, 'latin1');
const UE_PX_OPEN = Buffer.from('"ue_px":"', 'latin1');
const QUOTE = 0x22;
const CLOSE_BRACE = 0x7d;

function customEventJson(name: QuotedName, props: string | undefined): string {
  return props === undefined ? `{"name":${name.text}}` : `{"name":${name.text}${PROPS_KEY}${props}}`;
}

/**
 * The custom_event data of a name and props, checked as `customEvent` checks them, for an event
 * tracked with options (built like any other event).
 */
export function customEventData(name: string, props: unknown): SelfDescribingData {
  const quoted = quotedName(name);
  const json = props === undefined || props === null ? undefined : jsonObjectText('props', props);
  return { type: 'ue', schema: SCHEMAS.customEvent, json: customEventJson(quoted, json) };
}

/**
 * Builds a custom event: the name (validated once per name) and the props' JSON text, checked to
 * be an object. `undefined` or `null` props mean none: the event has no `props` key.
 */
export function customEvent(
  writer: PayloadWriter,
  eid: string,
  dtm: number,
  name: string,
  props: unknown,
): CustomEventPayload {
  const quoted = quotedName(name);
  if (props === undefined || props === null) return new CustomEventPayload(writer, eid, dtm, quoted, undefined, 0);
  const json = jsonObjectText('props', props);
  return new CustomEventPayload(writer, eid, dtm, quoted, json, Buffer.byteLength(json, 'utf8'));
}
