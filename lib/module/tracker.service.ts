import { Inject, Injectable, Logger } from '@nestjs/common';
import type { BillingEventOptionalInput, BillingEventRequiredInput } from '../tracker/billing-event';
import { BillingTrackResult, Tracker, TrackResult } from '../tracker/tracker';
import { SNOWPLOW_LOG_CONTEXT } from './snowplow.providers';
import { SNOWPLOW_TRACK_ERRORS, SNOWPLOW_TRACKER } from './snowplow.tokens';
import { TrackErrorSink } from './track-error-sink';

const LOG_INTERVAL_MS = 10_000;

/**
 * Tracks Snowplow events from a Nest app: inject it and call `trackEvent` or `trackBillingEvent*`.
 * Each call validates its input synchronously (a typed error names the field), queues the event
 * and returns its ids; it never waits for the network.
 *
 * @example
 * ```ts
 * @Injectable()
 * export class UsageService {
 *   constructor(private readonly tracker: TrackerService) {}
 *
 *   finish(projectId: number, minutes: number) {
 *     this.tracker.trackEvent('pipeline_finished', { projectId, minutes });
 *     return this.tracker.trackBillingEventWithOptionalInput(
 *       { category: 'ci', eventType: 'ci_minutes', realm: 'SaaS', unitOfMeasure: 'minute', quantity: minutes },
 *       { projectId },
 *     ).eventId;
 *   }
 * }
 * ```
 */
@Injectable()
export class TrackerService {
  private readonly logger = new Logger(SNOWPLOW_LOG_CONTEXT);
  private lastLogAt = 0;
  private suppressed = 0;

  constructor(
    @Inject(SNOWPLOW_TRACKER) private readonly tracker: Tracker,
    @Inject(SNOWPLOW_TRACK_ERRORS) private readonly trackErrors: TrackErrorSink,
  ) {}

  /**
   * A self-describing `com.gitlab/custom_event` with the given name and (optionally nested) props;
   * `null` or `undefined` props send none.
   */
  trackEvent(name: string, props?: Record<string, unknown> | null): TrackResult {
    return this.tracker.trackEvent(name, props);
  }

  /** A billing event (structured event with a `com.gitlab/billable_usage` entity) of the required fields. */
  trackBillingEvent(required: BillingEventRequiredInput): BillingTrackResult {
    return this.tracker.trackBillingEvent(required);
  }

  /** A billing event with optional billable_usage fields; unset, empty and zero ones are left out. */
  trackBillingEventWithOptionalInput(
    required: BillingEventRequiredInput,
    optional: BillingEventOptionalInput | undefined,
  ): BillingTrackResult {
    return this.tracker.trackBillingEventWithOptionalInput(required, optional);
  }

  /** Asks the emitter to send what is queued now (labkit's `Tracker.Flush()`). Returns at once. */
  flush(): void {
    this.tracker.flush();
  }

  /**
   * For tracking done on the side (the `@TrackEvent` interceptor): counts the failure in
   * `snowplow_track_errors_total{source}` and logs it, at most once per 10 s. Never throws.
   */
  recordTrackError(error: unknown, source: string): void {
    try {
      this.trackErrors.trackError(source);
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
