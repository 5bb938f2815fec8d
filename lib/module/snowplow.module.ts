import { DynamicModule, Module, Provider } from '@nestjs/common';
import { EmitterService } from './emitter.service';
import { checkTrackerName } from './snowplow-instance';
import type { SnowplowModuleOptions } from './snowplow-module-options';
import {
  ConfigurableModuleClass,
  SNOWPLOW_MODULE_OPTIONS,
  SnowplowModuleAsyncOptions,
  SnowplowModuleImportOptions,
} from './snowplow.module-definition';
import { optionsToken, serviceToken, snowplowProviders } from './snowplow.providers';
import { DEFAULT_TRACKER_NAME, snowplowToken } from './snowplow.tokens';
import { TrackerService } from './tracker.service';

/**
 * Snowplow for a Nest app: `TrackerService` to track, `EmitterService` to watch the queue, the
 * send loop started with the app and drained on shutdown.
 *
 * With `name`, an instance of its own (import the module once per name: billing to one collector,
 * analytics to another): inject its services with `@InjectTracker(name)` / `@InjectEmitter(name)`,
 * point a decorator at it with `{ tracker: name }`; its metrics carry `tracker="<name>"`, and it
 * logs as `Snowplow:<name>`. Without a name, the default instance, whose services are injected by
 * class.
 *
 * @example
 * ```ts
 * @Module({
 *   imports: [
 *     SnowplowModule.forRoot({
 *       collectorUrl: 'https://collector.example.com/com.snowplowanalytics.snowplow/tp2',
 *       appId: 'billing-api',
 *       isGlobal: true,
 *     }),
 *   ],
 * })
 * export class AppModule {}
 * ```
 * Or `SnowplowModule.forRootAsync({ imports, inject, useFactory })`, or `({ useClass })` /
 * `({ useExisting })` with a `SnowplowOptionsFactory` (`name` then stands beside them, not in the
 * factory's options).
 */
@Module({})
export class SnowplowModule extends ConfigurableModuleClass {
  /** The instance of these options (`name`: a named one; see the class). */
  static override forRoot(options: SnowplowModuleOptions & SnowplowModuleImportOptions): DynamicModule {
    return instanceModule(super.forRoot(options), checkTrackerName('name', options?.name));
  }

  /** The instance of the options a factory gives (`name` beside `useFactory`/`useClass`/`useExisting`). */
  static override forRootAsync(options: SnowplowModuleAsyncOptions): DynamicModule {
    return instanceModule(super.forRootAsync(options), checkTrackerName('name', options?.name));
  }
}

/**
 * The module of the instance `name`: its providers under its own tokens, and its exports. The
 * default instance exports its services by class, as it always has; a named one exports only its
 * own tokens, so injecting `TrackerService` by class never gets a named instance by accident.
 */
function instanceModule(definition: DynamicModule, name: string): DynamicModule {
  const providers: Provider[] = [...(definition.providers ?? []), ...snowplowProviders(name)];
  if (name === DEFAULT_TRACKER_NAME) {
    return {
      ...definition,
      providers,
      exports: [
        EmitterService,
        TrackerService,
        SNOWPLOW_MODULE_OPTIONS,
        snowplowToken('emitter'),
        snowplowToken('track-errors'),
      ],
    };
  }
  return {
    ...definition,
    // The builder provides the options under its one token: a named instance keeps them under its own.
    providers: providers.map((provider) =>
      (provider as { provide?: unknown }).provide === SNOWPLOW_MODULE_OPTIONS
        ? { ...(provider as object), provide: optionsToken(name) }
        : provider,
    ) as Provider[],
    exports: [
      serviceToken('tracker', name),
      serviceToken('emitter', name),
      optionsToken(name),
      snowplowToken('emitter', name),
      snowplowToken('track-errors', name),
    ],
  };
}
