import { Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { SnowplowEmitter } from '../emitter/snowplow-emitter';
import type { EmitterMetrics } from '../metrics';
import type { ModuleParts } from './snowplow-module-options';
import { AppInstances, storeKey } from './app-instances';
import type { SnowplowInstance } from './snowplow-instance';

/**
 * Owns the emitter's life in a Nest app: the send loop starts with the module, and on shutdown
 * (`app.close()`, or SIGTERM when the app called `enableShutdownHooks()`) the queue is drained
 * up to `shutdownTimeoutMs`, then the emitter stops (what is left is kept in a durable outbox, or
 * counted and dead-lettered) and the metrics take their last counts. The instances of one app
 * (`forRoot({ name })`) drain side by side: shutdown waits for the slowest, not for their sum.
 * Joining the app's instances, it refuses a second import under the same name, and two instances
 * over one outbox.
 */
@Injectable()
export class SnowplowLifecycle implements OnModuleInit, OnApplicationShutdown {
  private readonly logger: Logger;
  private readonly app: AppInstances | undefined;

  constructor(
    private readonly emitter: SnowplowEmitter,
    private readonly metrics: EmitterMetrics | undefined,
    private readonly parts: Pick<ModuleParts, 'shutdownTimeoutMs'> & { emitter?: { storage?: unknown } },
    instance: Pick<SnowplowInstance, 'logContext' | 'name'>,
    /** The app's modules container: its instances form one group. */
    modules?: object,
  ) {
    this.logger = new Logger(instance.logContext);
    this.app = modules === undefined ? undefined : AppInstances.of(modules);
    this.app?.join({ name: instance.name, store: storeKey(parts.emitter?.storage), shutdown: () => this.shutdown() });
  }

  onModuleInit(): void {
    this.emitter.start();
  }

  async onApplicationShutdown(): Promise<void> {
    await (this.app === undefined ? this.shutdown() : this.app.shutdownAll());
  }

  /** Drains up to `shutdownTimeoutMs`, stops the emitter, and lets the metrics take their last counts. */
  private async shutdown(): Promise<void> {
    if (!this.emitter.isStopped) {
      const timeoutMs = this.parts.shutdownTimeoutMs;
      const result = await this.emitter.drain(timeoutMs);
      if (result.drained) {
        if (result.sent > 0) this.logger.log(`drained ${result.sent} event${result.sent === 1 ? '' : 's'} on shutdown`);
      } else {
        // stop() then says what became of them: kept in the outbox, or counted, logged and
        // dead-lettered as dropped(shutdown).
        this.logger.warn(
          `shutdown deadline of ${timeoutMs} ms reached: ${result.sent} events sent, ` +
            `${result.remaining} still queued for ${this.emitter.collectorUrl}`,
        );
      }
      await this.emitter.stop();
    }
    this.metrics?.detach();
  }
}
