import { ConfigurableModuleBuilder } from '@nestjs/common';
import { SnowplowModuleOptions } from './snowplow-module-options';

export const {
  ConfigurableModuleClass,
  MODULE_OPTIONS_TOKEN: SNOWPLOW_MODULE_OPTIONS,
  OPTIONS_TYPE,
  ASYNC_OPTIONS_TYPE,
} = new ConfigurableModuleBuilder<SnowplowModuleOptions>()
  .setClassMethodName('forRoot')
  .setExtras({ isGlobal: false }, (definition, extras) => ({ ...definition, global: extras.isGlobal }))
  .build();
