import { ConfigurableModuleAsyncOptions, ConfigurableModuleBuilder } from '@nestjs/common';
import { SnowplowModuleOptions } from './snowplow-module-options';

export const {
  ConfigurableModuleClass,
  MODULE_OPTIONS_TOKEN: moduleOptionsToken,
  OPTIONS_TYPE,
  ASYNC_OPTIONS_TYPE,
} = new ConfigurableModuleBuilder<SnowplowModuleOptions>()
  .setClassMethodName('forRoot')
  // forRootAsync({ useClass }) / ({ useExisting }): the class implements SnowplowOptionsFactory,
  // whose method keeps the builder's default name, create().
  // `name` is read by SnowplowModule.forRoot / forRootAsync, which build the instance's providers.
  .setExtras({ isGlobal: false, name: undefined as string | undefined }, (definition, extras) => ({
    ...definition,
    global: extras.isGlobal,
  }))
  .build();

/** What an import of `SnowplowModule` takes beside its options (`forRoot` and `forRootAsync`). */
export interface SnowplowModuleImportOptions {
  /** Registers the module globally: its services can be injected in every module. Default false. */
  isGlobal?: boolean;
  /**
   * Makes this import a named instance of its own (see the README's "Named instances"): a letter,
   * then up to 62 letters, digits, `_` or `-`. Unset (or `'default'`): the default instance.
   */
  name?: string;
}

/**
 * What `SnowplowModule.forRootAsync` takes: `useFactory`/`useClass`/`useExisting`, `imports`,
 * `inject`, `isGlobal` and `name`.
 */
export type SnowplowModuleAsyncOptions = ConfigurableModuleAsyncOptions<SnowplowModuleOptions, 'create'> &
  SnowplowModuleImportOptions;

/** The injection token of the `SnowplowModuleOptions` given to `forRoot` / `forRootAsync`. */
export const SNOWPLOW_MODULE_OPTIONS: string | symbol = moduleOptionsToken;

/**
 * A class for `SnowplowModule.forRootAsync({ useClass })` or `({ useExisting })`: Nest calls its
 * `create()` for the module's options.
 *
 * @example
 * ```ts
 * @Injectable()
 * class SnowplowConfig implements SnowplowOptionsFactory {
 *   constructor(private readonly config: ConfigService) {}
 *   create(): SnowplowModuleOptions {
 *     return { collectorUrl: this.config.getOrThrow('SNOWPLOW_URL'), appId: 'billing-api' };
 *   }
 * }
 * SnowplowModule.forRootAsync({ imports: [ConfigModule], useClass: SnowplowConfig });
 * ```
 */
export interface SnowplowOptionsFactory {
  /** The module's options; may be async. */
  create(): SnowplowModuleOptions | Promise<SnowplowModuleOptions>;
}
