import type { EventKind } from '../tracker/payload';

/** An event waiting in storage: the serialised payload plus what the emitter tracks about it. */
export interface QueuedEvent {
  /**
   * The lane: billing events wait in their own. The tracker sets it on every event (only its
   * billing methods set `billing`), and stores keep it; it is never inferred from the payload
   * (rows and lines from before lanes were stored: see `legacyLane`). Unset means `custom`.
   */
  readonly kind?: EventKind;
  /** The Snowplow event id. */
  readonly eid: string;
  /** Track time, ms since the epoch. */
  readonly dtm: number;
  /** The payload_data item without `stm`. */
  readonly json: string;
  /** Bytes the event takes in a request body: UTF-8 size of `json` plus `stm` and a separator. */
  readonly bytes: number;
  /** Send attempts that failed so far. */
  attempts: number;
  /** The storage's own key for a leased event (a durable store's row id); unset in memory. */
  id?: number;
}
