import { ConfigurableModuleBuilder } from '@nestjs/common';
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
