import { DynamicModule, Module } from '@nestjs/common';
import { AppConfig } from './app-config';

/** Provides the `AppConfig` given at startup to every module (global). */
@Module({})
export class ConfigModule {
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: ConfigModule,
      global: true,
      providers: [{ provide: AppConfig, useValue: config }],
      exports: [AppConfig],
    };
  }
}
