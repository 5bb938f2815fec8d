import type { EventKind } from '../tracker/payload';

/** Why an event was written to the dead-letter file instead of being delivered. */
export type DeadLetterReason = 'rejected' | 'too_large' | 'expired' | 'overflow' | 'shutdown' | 'not_stored';

/** One line of the dead-letter file (JSONL): an event that will never be delivered by the emitter. */
export interface DeadLetterRecord {
  /** The Snowplow event id, as sent. */
  eid: string;
  /** Billing or custom. */
  kind: EventKind;
  /** Why the event was given up. */
  reason: DeadLetterReason;
  /** The collector's answer, when there was one. */
  statusCode?: number;
  /** What went wrong, in words (never a credential). */
  error: string;
  /** When it was dead-lettered, ISO 8601 UTC. */
  at: string;
  /**
   * Requests that carried the event before it was given up: every retry, and the re-sends of a
   * batch halved to find the events the collector refuses, the last (refused) one included. 0 when
   * it was never sent (`overflow`, or `shutdown` before a first attempt).
   */
  attempts: number;
  /** The payload_data item exactly as it would be sent, without `stm` (set again on replay). */
  payload: Record<string, string>;
}
