import { InvalidEventError } from '../errors';
import { describeType } from '../utils/values';
import { optionalTimestamp, requiredInputObject } from '../validation';
import { EntityJson, EventAdditions, NO_ENTITIES } from './event';
import type { AnySchemas, SelfDescribingOf } from './schema-catalogue';
import { checkSelfDescribingItem } from './self-describing-event';
import { checkSubject, mergeSubjects, Subject, SubjectFields } from './subject';

/**
 * The last argument of every track method: what the event carries besides its own data. `S` is
 * the tracker's schema catalogue (see `SelfDescribingOf`): with one, each entity's data is checked
 * by the compiler against its schema's type.
 */
export interface TrackOptions<S extends object = AnySchemas> {
  /**
   * Self-describing entities attached to the event (`cx`), in this order; a billing event's
   * `billable_usage` entity stays first.
   */
  entities?: readonly SelfDescribingOf<S>[];
  /** Subject fields for this event only; each one set wins over the tracker's `subject`. */
  subject?: Subject;
  /** `ttm`: when the event really happened, if the track call comes later. A `Date` or ms since the epoch. */
  trueTimestamp?: Date | number;
  /** `dtm`: sent instead of the track time. A `Date` or ms since the epoch. */
  deviceTimestamp?: Date | number;
}

const OPTION_KEYS = ['entities', 'subject', 'trueTimestamp', 'deviceTimestamp'];

/**
 * The options checked (each field named `options.<field>` in an error) with the tracker's subject
 * under the event's; `undefined` when they add nothing. `extraKeys` are the method's own options
 * (checked by the method); any other key is refused, so that a typo does not go unnoticed.
 */
export function checkTrackOptions(
  options: unknown,
  trackerSubject: SubjectFields | undefined,
  extraKeys: readonly string[] = [],
): EventAdditions | undefined {
  if (options === undefined || options === null) return trackerSubject && withSubject(trackerSubject);
  const input = requiredInputObject('options', options);
  for (const key of Object.keys(input)) {
    if (!OPTION_KEYS.includes(key) && !extraKeys.includes(key)) {
      throw new InvalidEventError(`options.${key}`, `is not an option (${[...OPTION_KEYS, ...extraKeys].join(', ')})`);
    }
  }
  const entities = checkEntities(input.entities);
  const subject = mergeSubjects(trackerSubject, checkSubject('options.subject', input.subject));
  const trueTimestamp = optionalTimestamp('options.trueTimestamp', input.trueTimestamp);
  const deviceTimestamp = optionalTimestamp('options.deviceTimestamp', input.deviceTimestamp);
  if (entities.length === 0 && subject === undefined && trueTimestamp === undefined && deviceTimestamp === undefined) {
    return undefined;
  }
  return { entities, subject, trueTimestamp, deviceTimestamp };
}

/** What a tracker's subject alone adds. */
function withSubject(subject: SubjectFields): EventAdditions {
  return { entities: NO_ENTITIES, subject, trueTimestamp: undefined, deviceTimestamp: undefined };
}

function checkEntities(value: unknown): readonly EntityJson[] {
  if (value === undefined || value === null) return NO_ENTITIES;
  if (!Array.isArray(value)) {
    throw new InvalidEventError('options.entities', `must be an array of {schema, data}, got ${describeType(value)}`);
  }
  const entities: EntityJson[] = [];
  for (let i = 0; i < value.length; i++) {
    if (!(i in value)) {
      throw new InvalidEventError(`options.entities[${i}]`, 'is a hole: every entity needs a schema and data');
    }
    entities.push(checkSelfDescribingItem(value[i], 'options.entities', i));
  }
  return entities;
}

/** Nothing added: no entities, subject or timestamps. */
export const NO_ADDITIONS: EventAdditions = Object.freeze({
  entities: NO_ENTITIES,
  subject: undefined,
  trueTimestamp: undefined,
  deviceTimestamp: undefined,
});
