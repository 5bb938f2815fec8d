import { HttpService } from '@nestjs/axios';
import { Inject, Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import type { Registry } from 'prom-client';
import { Emitter } from '../emitter/emitter';
import { EmitterMetrics } from '../metrics';
import { checkModuleOptions } from './snowplow-module-options';
import type { SnowplowModuleOptions } from './snowplow-module-options';
import { SNOWPLOW_MODULE_OPTIONS } from './snowplow.module-definition';

/**
 * The emitter as a Nest provider: the send loop starts with the module and drains on shutdown
 * (`app.close()`, or SIGTERM when the app called `enableShutdownHooks()`).
 */
@Injectable()
export class EmitterService extends Emitter implements OnModuleInit, OnApplicationShutdown {
  /** This emitter's Prometheus metrics, unless `metrics: false`. */
  readonly metrics?: EmitterMetrics;
  private readonly nestLogger: Logger;
  private readonly drainTimeoutMs: number;

  constructor(@Inject(SNOWPLOW_MODULE_OPTIONS) options: SnowplowModuleOptions, http: HttpService) {
    const { shutdownTimeoutMs } = checkModuleOptions(options);
    const {
      appId: _appId,
      namespace: _ns,
      userAgent: _ua,
      shutdownTimeoutMs: _st,
      metrics,
      ...emitterOptions
    } = options;
    const logger = new Logger('Snowplow');
    const observer = metrics === false ? undefined : new EmitterMetrics(metrics);
    super({ ...emitterOptions, httpClient: http.axiosRef, logger, observer });
    this.metrics = observer?.watch(this);
    this.nestLogger = logger;
    this.drainTimeoutMs = shutdownTimeoutMs;
  }

  onModuleInit(): void {
    this.start();
  }

  async onApplicationShutdown(): Promise<void> {
    if (!this.isStopped) {
      const result = await this.drain(this.drainTimeoutMs);
      if (result.drained) {
        if (result.sent > 0)
          this.nestLogger.log(`drained ${result.sent} event${result.sent === 1 ? '' : 's'} on shutdown`);
      } else {
        // stop() then says what became of them: kept in the outbox, or counted, logged and
        // dead-lettered as dropped(shutdown).
        this.nestLogger.warn(
          `shutdown deadline of ${this.drainTimeoutMs} ms reached: ${result.sent} events sent, ` +
            `${result.remaining} still queued for ${this.collectorUrl}`,
        );
      }
      await this.stop();
    }
    this.metrics?.detach();
  }

  /** The prom-client registry holding this emitter's metrics, for apps without PrometheusModule. */
  collector(): Registry | undefined {
    return this.metrics?.registry;
  }
}
