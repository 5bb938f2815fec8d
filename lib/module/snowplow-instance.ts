import { InvalidOptionError } from '../errors';
import { describeType } from '../utils';
import { RequestContextStore } from './request-context';
import { DEFAULT_TRACKER_NAME, snowplowLogContext } from './snowplow.tokens';

/** What an instance name may be: it becomes a metric label value, a log context and a token's description. */
const NAME_PATTERN = /^[A-Za-z][A-Za-z0-9_-]{0,62}$/;

/**
 * One `SnowplowModule` instance, as its parts see it: its name (`'default'` for the unnamed one),
 * the logger context of what it logs, and its own request contexts.
 */
export interface SnowplowInstance {
  readonly name: string;
  readonly logContext: string;
  readonly requests: RequestContextStore;
}

/** The instance `name` (already checked with {@link checkTrackerName}). */
export function snowplowInstance(name: string): SnowplowInstance {
  return { name, logContext: snowplowLogContext(name), requests: new RequestContextStore() };
}

/**
 * A tracker instance's name as given to `field` (`name` of `forRoot`, `tracker` of a decorator or
 * of `@InjectTracker`): `'default'` when unset, else a letter followed by up to 62 letters, digits,
 * `_` or `-`. A mistake throws `InvalidOptionError` naming `field` (and `at`, where it was given).
 */
export function checkTrackerName(field: string, value: unknown, at?: string): string {
  if (value === undefined) return DEFAULT_TRACKER_NAME;
  if (typeof value !== 'string' || !NAME_PATTERN.test(value)) {
    const got = typeof value === 'string' ? JSON.stringify(value) : describeType(value);
    throw new InvalidOptionError(
      field,
      `${at === undefined ? '' : `${at}: `}must be a tracker name: a letter, then up to 62 letters, digits, "_" or "-", got ${got}`,
    );
  }
  return value;
}
