import { Inject, Injectable, Logger } from '@nestjs/common';
import { Tracker } from '../tracker/tracker';
import { EmitterService } from './emitter.service';
import type { SnowplowModuleOptions } from './snowplow-module-options';
import { SNOWPLOW_MODULE_OPTIONS } from './snowplow.module-definition';

const LOG_INTERVAL_MS = 10_000;

/** The tracker as a Nest provider: inject it and call `trackEvent` or `trackBillingEvent*`. */
@Injectable()
export class TrackerService extends Tracker {
  private readonly logger = new Logger('Snowplow');
  private lastLogAt = 0;
  private suppressed = 0;

  constructor(
    @Inject(SNOWPLOW_MODULE_OPTIONS) options: SnowplowModuleOptions,
    private readonly emitterService: EmitterService,
  ) {
    super({
      appId: options.appId,
      emitter: emitterService,
      namespace: options.namespace,
      userAgent: options.userAgent,
    });
  }

  /**
   * For tracking done on the side (the @TrackEvent interceptor): counts the failure in
   * `snowplow_track_errors_total{source}` and logs it, at most once per 10 s. Never throws.
   */
  recordTrackError(error: unknown, source: string): void {
    try {
      this.emitterService.metrics?.trackError(source);
      const now = Date.now();
      if (now - this.lastLogAt < LOG_INTERVAL_MS) {
        this.suppressed++;
        return;
      }
      const more = this.suppressed ? ` (${this.suppressed} more since the last report)` : '';
      this.lastLogAt = now;
      this.suppressed = 0;
      const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
      this.logger.warn(`tracking failed in ${source}: ${message}${more}`);
    } catch {
      // Reporting a tracking failure must never become a failure of its own.
    }
  }
}
