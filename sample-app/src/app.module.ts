import { DynamicModule, Module } from '@nestjs/common';
import { PrometheusModule } from '@willsoto/nestjs-prometheus';
import { SnowplowModule, SnowplowModuleOptions } from 'nestjs-snowplow';
import { AppConfig, ConfigError, ConfigModule } from './config';
import { HealthModule } from './health/health.module';
import { JobsModule } from './jobs/jobs.module';

/** SnowplowModule options from the app's configuration. */
function snowplowOptions({ snowplow }: AppConfig): SnowplowModuleOptions {
  if (!snowplow.collectorUrl) {
    throw new ConfigError(
      'SNOWPLOW_COLLECTOR_URL',
      'is not set (main.ts starts the embedded collector when it is missing)',
    );
  }
  return {
    collectorUrl: snowplow.collectorUrl,
    appId: snowplow.appId,
    namespace: snowplow.namespace,
    shutdownTimeoutMs: snowplow.shutdownTimeoutMs,
    // Billing events tracked during a request carry its X-Request-Id (or X-Correlation-Id) as
    // correlation_id (the default correlationIdHeaders); custom events get it as a prop.
    enrich: ({ correlationId }) => (correlationId === undefined ? {} : { request_id: correlationId }),
    // Every event tracked inside an HTTP request gets the end user's IP address (request.ip, which
    // honours Express's `trust proxy`) and User-Agent as its subject. Unset, nothing from the
    // request would be sent: personal data goes out only when the app says so here.
    subject: ({ request }) => ({ ip: request?.ip, ua: request?.headers?.['user-agent'] }),
    // Metrics go to prom-client's default registry, which PrometheusModule serves on /metrics.
  };
}

@Module({})
export class AppModule {
  /** The application, configured by `config` (main.ts reads it from the environment). */
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ConfigModule.forRoot(config),
        PrometheusModule.register(),
        SnowplowModule.forRootAsync({
          // TrackerService can be injected, and @TrackEvent used, in every module.
          isGlobal: true,
          inject: [AppConfig],
          useFactory: snowplowOptions,
        }),
        JobsModule,
        HealthModule,
      ],
    };
  }
}
