import { InvalidEventError } from '../errors';
import { describeType, isPlainObject, stringifyJson } from '../utils';
import { encodeBase64 } from './payload';
import { SCHEMAS } from './schemas';

/** Longest event name the custom_event schema accepts. */
export const MAX_EVENT_NAME_LENGTH = 255;

const WRAPPER_HEAD = `{"schema":"${SCHEMAS.unstructEvent}","data":{"schema":"${SCHEMAS.customEvent}","data":`;

export function validateEventName(name: unknown): asserts name is string {
  if (typeof name !== 'string') {
    throw new InvalidEventError('name', `must be a string, got ${describeType(name)}`);
  }
  if (name.trim() === '') throw new InvalidEventError('name', 'must not be empty or whitespace');
  if (name.length > MAX_EVENT_NAME_LENGTH) {
    throw new InvalidEventError('name', `must be at most ${MAX_EVENT_NAME_LENGTH} characters, got ${name.length}`);
  }
}

/** Names are constants at call sites: each is validated and quoted once (bounded, so dynamic names cannot grow it). */
const quotedNames = new Map<string, string>();
const MAX_CACHED_NAMES = 1_000;

function quotedName(name: string): string {
  let quoted = quotedNames.get(name);
  if (quoted === undefined) {
    validateEventName(name);
    quoted = JSON.stringify(name);
    if (quotedNames.size >= MAX_CACHED_NAMES) quotedNames.clear();
    quotedNames.set(name, quoted);
  }
  return quoted;
}

/** The `ue_px` value of a custom event: base64 of the unstruct_event wrapper around `{name, props}`. */
export function customEventUePx(name: string, props: unknown): string {
  const quoted = quotedName(name);
  let inner: string;
  if (props === undefined) {
    inner = `{"name":${quoted}}`;
  } else {
    if (!isPlainObject(props)) {
      throw new InvalidEventError('props', `must be a plain object, got ${describeType(props)}`);
    }
    const result = stringifyJson(props);
    if ('error' in result) throw new InvalidEventError('props', result.error);
    inner = `{"name":${quoted},"props":${result.json}}`;
  }
  return encodeBase64(`${WRAPPER_HEAD}${inner}}}`);
}
