import { HttpModule } from '@nestjs/axios';
import { Module } from '@nestjs/common';
import { EmitterService } from './emitter.service';
import { ConfigurableModuleClass, SNOWPLOW_MODULE_OPTIONS } from './snowplow.module-definition';
import { TrackerService } from './tracker.service';

/**
 * `SnowplowModule.forRoot(options)` or `SnowplowModule.forRootAsync({ useFactory, inject, imports, isGlobal })`.
 * Provides and exports `TrackerService`, `EmitterService` and the options token.
 */
@Module({
  // An axios instance of its own: app-wide axios defaults and interceptors never see collector traffic.
  imports: [HttpModule.register({})],
  providers: [EmitterService, TrackerService],
  exports: [EmitterService, TrackerService, SNOWPLOW_MODULE_OPTIONS],
})
export class SnowplowModule extends ConfigurableModuleClass {}
