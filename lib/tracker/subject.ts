import { InvalidEventError } from '../errors';
import {
  optionalDimensions,
  optionalField,
  optionalInteger,
  optionalPlatform,
  Platform,
  PROTOCOL_LIMITS,
  requiredInputObject,
} from '../validation';

/**
 * Who and where an event comes from: the subject fields of the tracker protocol. Set them per
 * tracker (`new Tracker({ subject })`, defaults for every event) and per event (`options.subject`,
 * which wins field by field). Unset and empty fields are not sent. Personal data: send only what
 * your users agreed to.
 */
export interface Subject {
  /** `uid`: your user id. At most 255 characters. */
  uid?: string;
  /** `ip`: the end user's IP address (the pipeline uses it for geolocation). At most 128 characters. */
  ip?: string;
  /**
   * `ua`: the end user's user agent. It replaces the library's own (`nestjs-snowplow/<version>`,
   * the tracker's `userAgent`) for this event: `ua` is one wire field. The tracker's identity
   * stays in `tv`. At most 1000 characters.
   */
  ua?: string;
  /** `duid`: the domain user id (a first-party cookie id). At most 128 characters. */
  duid?: string;
  /** The network user id, sent as `tnuid` (overriding the collector's cookie id). At most 128 characters. */
  nuid?: string;
  /** `sid`: the session id (a UUID in Snowplow's trackers). At most 128 characters. */
  sid?: string;
  /** `vid`: the session index, an integer from 0 to 32767. */
  vid?: number;
  /** `lang`: the user's language, e.g. `en-US`. At most 255 characters. */
  lang?: string;
  /** `tz`: the user's time zone, e.g. `Europe/Berlin`. At most 255 characters. */
  tz?: string;
  /** `res`: the screen resolution, `WIDTHxHEIGHT` in pixels. */
  res?: string;
  /** `vp`: the viewport, `WIDTHxHEIGHT` in pixels. */
  vp?: string;
  /** `cd`: the colour depth in bits, an integer from 0 to 1000. */
  cd?: number;
  /** `p`: the platform; `srv` (server) unless set. */
  p?: Platform;
}

/** Subject fields checked, as the wire texts sent, by wire key (`nuid` is `tnuid`). */
export type SubjectFields = Readonly<Record<string, string>>;

type Rule = (field: string, value: unknown) => string | undefined;
const text =
  (max: number): Rule =>
  (field, value) =>
    optionalField(field, value, max);

/** Each subject field: its wire key and its rule, in the order they are written. */
const SUBJECT_FIELDS: ReadonlyArray<readonly [keyof Subject, string, Rule]> = [
  ['p', 'p', optionalPlatform],
  ['ua', 'ua', text(PROTOCOL_LIMITS.ua)],
  ['uid', 'uid', text(PROTOCOL_LIMITS.uid)],
  ['ip', 'ip', text(PROTOCOL_LIMITS.ip)],
  ['duid', 'duid', text(PROTOCOL_LIMITS.duid)],
  ['nuid', 'tnuid', text(PROTOCOL_LIMITS.nuid)],
  ['sid', 'sid', text(PROTOCOL_LIMITS.sid)],
  ['vid', 'vid', (field, value) => optionalInteger(field, value, 0, 32767)],
  ['lang', 'lang', text(PROTOCOL_LIMITS.lang)],
  ['tz', 'tz', text(PROTOCOL_LIMITS.tz)],
  ['res', 'res', optionalDimensions],
  ['vp', 'vp', optionalDimensions],
  ['cd', 'cd', (field, value) => optionalInteger(field, value, 0, 1000)],
];

const KNOWN = new Set<string>(SUBJECT_FIELDS.map(([name]) => name));

/**
 * The subject's fields checked, each named `<prefix>.<field>` in an error; `undefined` when unset
 * or when no field is set. An unknown field is refused (a typo would otherwise send nothing).
 */
export function checkSubject(prefix: string, value: unknown): SubjectFields | undefined {
  if (value === undefined || value === null) return undefined;
  const input = requiredInputObject(prefix, value);
  const fields: Record<string, string> = {};
  let any = false;
  for (const [name, wire, rule] of SUBJECT_FIELDS) {
    const checked = rule(`${prefix}.${name}`, input[name]);
    if (checked !== undefined) {
      fields[wire] = checked;
      any = true;
    }
  }
  for (const key of Object.keys(input)) {
    if (!KNOWN.has(key)) {
      throw new InvalidEventError(`${prefix}.${key}`, `is not a subject field (${[...KNOWN].join(', ')})`);
    }
  }
  return any ? fields : undefined;
}

/** The tracker's subject, then the event's over it (field by field). */
export function mergeSubjects(
  tracker: SubjectFields | undefined,
  event: SubjectFields | undefined,
): SubjectFields | undefined {
  if (event === undefined) return tracker;
  if (tracker === undefined) return event;
  // Not `{ ...tracker, ...event }`: a second spread adding keys gives every merged subject a
  // hidden class of its own in V8 (see `trackerEvent` in event.ts). Same keys, same order.
  return Object.assign({}, tracker, event);
}
