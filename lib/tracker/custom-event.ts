import { NO_ENTITIES, SelfDescribingData, TrackerEvent } from './event';
import { base64Length, encodeBase64, encodeBase64After, PayloadWriter, TrackedPayload } from './payload';
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
   * 4 characters, so what follows is encoded on its own and appended).
   */
  readonly head64: string;
  /** The 0 to 2 bytes of that UTF-8 after the last whole 3: encoded with what follows. */
  readonly rest: Uint8Array;
}

function quoted(text: string): QuotedName {
  const head = Buffer.from(`${WRAPPER_HEAD}{"name":${text}`, 'utf8');
  const whole = head.length - (head.length % 3);
  return {
    text,
    bytes: Buffer.byteLength(text, 'utf8'),
    head64: head.toString('base64url', 0, whole),
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
   * `json` without its opening `{`: what a request body holds after the event's `{"stm":"...",`
   * (see `serialiseBatch`). Written without encoding the whole `ue_px`: the base64 of its fixed
   * head (the wrappers and the name) comes from the name's cache, and only what follows (the
   * props and the closing braces) is encoded here.
   */
  get tail(): string {
    return this.writer.tail('ue', this.eid, this.dtm, `"ue_px":"${this.uePx()}"`);
  }

  /** The `ue_px` text, from the name's encoded head and the rest encoded now. */
  private uePx(): string {
    const name = this.name;
    const props = this.props;
    // The 0-2 bytes of the head left over, then the props, `}` and WRAPPER_TAIL.
    const rest = encodeBase64After(name.rest, props === undefined ? '}}}' : `${PROPS_KEY}${props}}}}`);
    if (rest !== undefined) return name.head64 + rest;
    return encodeBase64(`${WRAPPER_HEAD}${customEventJson(name, props)}${WRAPPER_TAIL}`);
  }
}

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
