import { DynamicModule, INestApplicationContext, InjectionToken, Module, Provider } from '@nestjs/common';
import type { TestingModuleBuilder } from '@nestjs/testing';
import { checkTrackerName } from '../module/snowplow-instance';
import type { SnowplowModuleOptions } from '../module/snowplow-module-options';
import { optionsToken, serviceToken, snowplowProviders } from '../module/snowplow.providers';
import { DEFAULT_TRACKER_NAME, snowplowToken } from '../module/snowplow.tokens';
import { SnowplowTestingCapture } from './snowplow-testing.capture';

/** Options of `SnowplowTestingModule.forRoot(...)`. */
export interface SnowplowTestingModuleOptions {
  /** `aid` of every event. Default `test-app`. */
  appId?: string;
  /** `tna` of every event. Default `gitlab`. */
  namespace?: string;
  /** `ua` of every event. */
  userAgent?: string;
  /** Registers the module globally, as `SnowplowModule` does with `isGlobal`. */
  isGlobal?: boolean;
  /** Stands in for the `SnowplowModule` instance of this name (`forRoot({ name })`); unset, the default one. */
  name?: string;
}

/**
 * A drop-in replacement for `SnowplowModule` in unit tests: the same TrackerService and event
 * builder, with events captured in memory (no HTTP, no metrics). Read them with
 * `app.get(SnowplowTestingCapture).events({ name })`, or `SnowplowTestingModule.capture(app, name)`
 * for a named instance.
 */
@Module({})
export class SnowplowTestingModule {
  /** The testing module: a real `TrackerService` over an in-memory capture. */
  static forRoot(options: SnowplowTestingModuleOptions = {}): DynamicModule {
    const name = checkTrackerName('name', options.name);
    const moduleOptions: SnowplowModuleOptions = {
      collectorUrl: 'http://127.0.0.1/com.snowplowanalytics.snowplow/tp2',
      appId: options.appId ?? 'test-app',
      namespace: options.namespace,
      userAgent: options.userAgent,
      metrics: false,
    };
    const capture = new SnowplowTestingCapture();
    const replaced = new Set<unknown>([snowplowToken('emitter', name), snowplowToken('track-errors', name)]);
    const providers: Provider[] = [
      { provide: optionsToken(name), useValue: moduleOptions },
      // The real module's providers, with the capture where the emitter and the metrics stand, and
      // no lifecycle: nothing to start or drain.
      ...snowplowProviders(name)
        .filter((provider) => tokenOf(provider) !== snowplowToken('lifecycle', name))
        .map((provider): Provider => {
          const token = tokenOf(provider);
          return token !== undefined && replaced.has(token) ? { provide: token, useValue: capture } : provider;
        }),
    ];
    // What the real module exports, and the capture for the default instance.
    const exports: unknown[] = [
      serviceToken('emitter', name),
      serviceToken('tracker', name),
      optionsToken(name),
      snowplowToken('emitter', name),
      snowplowToken('track-errors', name),
    ];
    if (name === DEFAULT_TRACKER_NAME) {
      providers.push({ provide: SnowplowTestingCapture, useValue: capture });
      exports.push(SnowplowTestingCapture);
    }
    return {
      module: SnowplowTestingModule,
      global: options.isGlobal ?? false,
      providers,
      exports: exports as DynamicModule['exports'],
    };
  }

  /**
   * For tests of a whole app that imports the real `SnowplowModule`: replaces the emitter of its
   * instance `name` (unset: the default instance) with a capture, so the app's own TrackerService
   * (and `@TrackEvent`) build events that are kept in memory. Call it once per instance to capture.
   * Read them with `SnowplowTestingModule.capture(app, name)`.
   */
  static override(builder: TestingModuleBuilder, name?: string): TestingModuleBuilder {
    const instance = checkTrackerName('name', name);
    const capture = new SnowplowTestingCapture();
    return builder
      .overrideProvider(snowplowToken('emitter', instance))
      .useValue(capture)
      .overrideProvider(snowplowToken('track-errors', instance))
      .useValue(capture);
  }

  /** The capture of the instance `name` (unset: the default one) of an app built with `forRoot()` or `override()`. */
  static capture(app: Pick<INestApplicationContext, 'get'>, name?: string): SnowplowTestingCapture {
    const found: unknown = app.get(snowplowToken('emitter', checkTrackerName('name', name)), { strict: false });
    if (!(found instanceof SnowplowTestingCapture)) {
      throw new Error(
        'This app sends to a real collector: build it with SnowplowTestingModule.forRoot() or SnowplowTestingModule.override()',
      );
    }
    return found;
  }
}

function tokenOf(provider: Provider): InjectionToken | undefined {
  return (provider as { provide?: InjectionToken }).provide;
}
