import { DynamicModule, INestApplicationContext, Module, Provider } from '@nestjs/common';
import type { TestingModuleBuilder } from '@nestjs/testing';
import { EmitterService } from '../module/emitter.service';
import type { SnowplowModuleOptions } from '../module/snowplow-module-options';
import { SNOWPLOW_MODULE_OPTIONS } from '../module/snowplow.module-definition';
import { snowplowProviders } from '../module/snowplow.providers';
import { SNOWPLOW_EMITTER, SNOWPLOW_TRACK_ERRORS } from '../module/snowplow.tokens';
import { TrackerService } from '../module/tracker.service';
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
}

/**
 * A drop-in replacement for `SnowplowModule` in unit tests: the same TrackerService and event
 * builder, with events captured in memory (no HTTP, no metrics). Read them with
 * `app.get(SnowplowTestingCapture).events({ name })`.
 */
@Module({})
export class SnowplowTestingModule {
  /** The testing module: a real `TrackerService` over an in-memory capture. */
  static forRoot(options: SnowplowTestingModuleOptions = {}): DynamicModule {
    const moduleOptions: SnowplowModuleOptions = {
      collectorUrl: 'http://127.0.0.1/com.snowplowanalytics.snowplow/tp2',
      appId: options.appId ?? 'test-app',
      namespace: options.namespace,
      userAgent: options.userAgent,
      metrics: false,
    };
    const capture = new SnowplowTestingCapture();
    return {
      module: SnowplowTestingModule,
      global: options.isGlobal ?? false,
      providers: [
        { provide: SNOWPLOW_MODULE_OPTIONS, useValue: moduleOptions },
        // The real module's providers, with the capture where the emitter and the metrics stand.
        ...snowplowProviders.map((provider) => withCapture(provider, capture)),
        { provide: SnowplowTestingCapture, useValue: capture },
        EmitterService,
        TrackerService,
      ],
      exports: [SNOWPLOW_MODULE_OPTIONS, SnowplowTestingCapture, EmitterService, TrackerService, SNOWPLOW_EMITTER],
    };
  }

  /**
   * For tests of a whole app that imports the real `SnowplowModule`: replaces its emitter with a
   * capture, so the app's own TrackerService (and `@TrackEvent`) build events that are kept in memory.
   * Read them with `SnowplowTestingModule.capture(app)`.
   */
  static override(builder: TestingModuleBuilder): TestingModuleBuilder {
    const capture = new SnowplowTestingCapture();
    return builder
      .overrideProvider(SNOWPLOW_EMITTER)
      .useValue(capture)
      .overrideProvider(SNOWPLOW_TRACK_ERRORS)
      .useValue(capture);
  }

  /** The capture of an app built with `forRoot()` or `override()`. */
  static capture(app: Pick<INestApplicationContext, 'get'>): SnowplowTestingCapture {
    const found: unknown = app.get(SNOWPLOW_EMITTER, { strict: false });
    if (!(found instanceof SnowplowTestingCapture)) {
      throw new Error(
        'This app sends to a real collector: build it with SnowplowTestingModule.forRoot() or SnowplowTestingModule.override()',
      );
    }
    return found;
  }
}

/** The capture stands in for the emitter and receives the track errors; every other provider is the real one. */
function withCapture(provider: Provider, capture: SnowplowTestingCapture): Provider {
  const token = (provider as { provide?: unknown }).provide;
  if (token === SNOWPLOW_EMITTER || token === SNOWPLOW_TRACK_ERRORS) return { provide: token, useValue: capture };
  return provider;
}
