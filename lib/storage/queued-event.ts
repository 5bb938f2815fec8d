import type { EventKind } from '../tracker/payload';

/** An event waiting in storage: the serialised payload plus what the emitter tracks about it. */
export interface QueuedEvent {
  /** Billing events wait in their own lane; unset means `custom`. */
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
