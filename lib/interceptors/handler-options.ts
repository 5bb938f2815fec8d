import { InvalidOptionError } from '../errors';
import { checkTrackerName } from '../module/snowplow-instance';
import { describeType, isPlainObject } from '../utils';
import type { TrackEventOn } from './track-event.metadata';

/** The values of `on`, in the order messages list them. */
export const TRACK_EVENT_ON_VALUES: readonly TrackEventOn[] = ['success', 'error', 'always'];

/**
 * The options object of a handler decorator (`at` names the decorator and the handler): a plain
 * object with only `keys`, or `{}` when `undefined`. A mistake throws `InvalidOptionError` naming it.
 */
export function checkDecoratorOptions(options: unknown, keys: readonly string[], at: string): Record<string, unknown> {
  if (options === undefined) return {};
  if (!isPlainObject(options)) {
    throw new InvalidOptionError('options', `${at}: must be an object, got ${describeType(options)}`);
  }
  for (const key of Object.keys(options)) {
    if (!keys.includes(key)) {
      throw new InvalidOptionError(`options.${key}`, `${at}: unknown option (expected one of: ${keys.join(', ')})`);
    }
  }
  return options;
}

/** The option every handler decorator has: which `SnowplowModule` instance sends its events. */
export interface TrackerChoice {
  /**
   * The name of the `SnowplowModule` instance that sends the event (`forRoot({ name })`). Default:
   * the unnamed instance. The module of the decorated controller must see that instance (import
   * it there, or register it with `isGlobal: true`); otherwise Nest fails at startup naming its token.
   */
  tracker?: string;
}

/** `options.tracker`: a tracker name, `'default'` when unset (see `checkTrackerName`). */
export function checkTrackerOption(tracker: unknown, at: string): string {
  return checkTrackerName('options.tracker', tracker, at);
}

/** `options.on`: one of {@link TRACK_EVENT_ON_VALUES}, `'success'` when unset. */
export function checkOn(on: unknown, at: string): TrackEventOn {
  if (on === undefined) return 'success';
  if (!TRACK_EVENT_ON_VALUES.includes(on as TrackEventOn)) {
    const got = typeof on === 'string' ? JSON.stringify(on) : describeType(on);
    throw new InvalidOptionError('options.on', `${at}: must be one of 'success', 'error', 'always', got ${got}`);
  }
  return on as TrackEventOn;
}
