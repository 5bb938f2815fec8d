import { Inject, InjectionToken } from '@nestjs/common';
import { checkTrackerName } from './snowplow-instance';
import { optionsToken, serviceToken } from './snowplow.providers';

/** What {@link getSnowplowToken} gives the token of. */
export type SnowplowTokenPart = 'tracker' | 'emitter' | 'options';

/**
 * The injection token of a part of the `SnowplowModule` instance `name` (unset: the unnamed
 * default instance): `'tracker'` its `TrackerService`, `'emitter'` its `EmitterService`,
 * `'options'` its `SnowplowModuleOptions`. For the default instance these are `TrackerService`,
 * `EmitterService` and `SNOWPLOW_MODULE_OPTIONS` themselves. Use it with `app.get(...)`,
 * `moduleRef.get(...)` or a factory's `inject`; in a constructor, `@InjectTracker(name)` and
 * `@InjectEmitter(name)` say the same.
 *
 * @example
 * ```ts
 * const analytics = app.get<TrackerService>(getSnowplowToken('tracker', 'analytics'));
 * ```
 */
export function getSnowplowToken(part: SnowplowTokenPart, name?: string): InjectionToken {
  const instance = checkTrackerName('name', name);
  if (part === 'options') return optionsToken(instance);
  if (part !== 'tracker' && part !== 'emitter') {
    throw new TypeError(`getSnowplowToken: part must be 'tracker', 'emitter' or 'options', got ${String(part)}`);
  }
  return serviceToken(part, instance);
}

/**
 * Injects the `TrackerService` of the `SnowplowModule` instance `name` (`forRoot({ name })`);
 * unset, the unnamed default instance's, as a plain `TrackerService` parameter does.
 *
 * @example
 * ```ts
 * constructor(@InjectTracker('analytics') private readonly analytics: TrackerService) {}
 * ```
 */
export function InjectTracker(name?: string): PropertyDecorator & ParameterDecorator {
  return Inject(getSnowplowToken('tracker', name));
}

/** Injects the `EmitterService` of the `SnowplowModule` instance `name`; unset, the default instance's. */
export function InjectEmitter(name?: string): PropertyDecorator & ParameterDecorator {
  return Inject(getSnowplowToken('emitter', name));
}
