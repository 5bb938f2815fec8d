import { Module } from '@nestjs/common';
import { EmitterService } from './emitter.service';
import { ConfigurableModuleClass, SNOWPLOW_MODULE_OPTIONS } from './snowplow.module-definition';
import { SnowplowLifecycle } from './snowplow.lifecycle';
import { snowplowProviders } from './snowplow.providers';
import { SNOWPLOW_EMITTER, SNOWPLOW_TRACK_ERRORS } from './snowplow.tokens';
import { TrackerService } from './tracker.service';

/**
 * Snowplow for a Nest app: `TrackerService` to track, `EmitterService` to watch the queue, the
 * send loop started with the app and drained on shutdown.
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
 * `({ useExisting })` with a `SnowplowOptionsFactory`.
 */
@Module({
  providers: [...snowplowProviders, SnowplowLifecycle, EmitterService, TrackerService],
  exports: [EmitterService, TrackerService, SNOWPLOW_MODULE_OPTIONS, SNOWPLOW_EMITTER, SNOWPLOW_TRACK_ERRORS],
})
export class SnowplowModule extends ConfigurableModuleClass {}
