import { encodeBase64 } from './payload';
import { SCHEMAS } from './schemas';
import { jsonObjectText, validateEventName } from '../validation';

export { MAX_EVENT_NAME_LENGTH, validateEventName } from '../validation';

const WRAPPER_HEAD = `{"schema":"${SCHEMAS.unstructEvent}","data":{"schema":"${SCHEMAS.customEvent}","data":`;

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

/**
 * The `ue_px` value of a custom event: base64 of the unstruct_event wrapper around `{name, props}`.
 * `undefined` or `null` props mean none: the event has no `props` key. Otherwise the props' JSON
 * text, checked to be an object, is the text sent.
 */
export function customEventUePx(name: string, props: unknown): string {
  const quoted = quotedName(name);
  const inner =
    props === undefined || props === null
      ? `{"name":${quoted}}`
      : `{"name":${quoted},"props":${jsonObjectText('props', props)}}`;
  return encodeBase64(`${WRAPPER_HEAD}${inner}}}`);
}
