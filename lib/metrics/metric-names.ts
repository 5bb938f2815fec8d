export const DEFAULT_METRICS_PREFIX = 'snowplow_';

/** Every metric the library registers, by role, for a given prefix. */
export function metricNames(prefix: string) {
  return {
    enqueued: `${prefix}events_enqueued_total`,
    sent: `${prefix}events_sent_total`,
    batchDuration: `${prefix}batch_duration_seconds`,
    queueDepth: `${prefix}queue_depth`,
    queueCapacity: `${prefix}queue_capacity`,
    dropped: `${prefix}events_dropped_total`,
    trackErrors: `${prefix}track_errors_total`,
    authFailures: `${prefix}auth_failures_total`,
    deadLetterWriteFailures: `${prefix}dead_letter_write_failures_total`,
    correlationIdsRejected: `${prefix}correlation_ids_rejected_total`,
    storageErrors: `${prefix}storage_errors_total`,
    storeUp: `${prefix}store_up`,
  };
}
