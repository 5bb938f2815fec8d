/** A self-describing JSON: data plus the Iglu URI of the schema it follows. */
export interface SelfDescribingJson<T = unknown> {
  schema: string;
  data: T;
}

/** The tracker payload of one event as sent: every value a string. */
export type RawEvent = Record<string, string>;

/** An event that passed every check, decoded. */
export interface GoodEvent {
  /** The event id (`eid`), when sent. */
  eid?: string;
  /** The raw event type `e`: ue, se, pv, pp, tr, ti. */
  eventType: string;
  /**
   * custom_event: its `name`; se: `se_ac`; other ue: the innermost schema's NAME; pv, pp, tr, ti,
   * ad: Snowplow's event_name (page_view, page_ping, transaction, transaction_item, ad_impression).
   */
  name: string;
  /** ue only: the Iglu URI of the innermost (unstruct) data. */
  schema?: string;
  /** ue only: the innermost data. */
  data?: unknown;
  /** com.gitlab/custom_event only: its `props`. */
  props?: Record<string, unknown> | null;
  /** Entities from `cx`/`co`, in order (empty when none). */
  contexts: SelfDescribingJson[];
  raw: RawEvent;
  /** ISO-8601 time the collector received the request. */
  receivedAt: string;
}

/**
 * Why an event (or a whole request) is bad. `field` is `body` for request-level problems
 * (content type, size, JSON, envelope), the payload key otherwise (`e`, `ue_px`, `ue_pr`, `cx`,
 * `co`, `se_va`, an unknown key...).
 */
export interface EventError {
  field: string;
  /** The Iglu URI involved, when a schema check failed or a schema is unknown. */
  schema?: string;
  /** JSON pointer to the failing value: into the decoded JSON of `field`, or into the body. */
  path?: string;
  message: string;
}

/** An event (or request) that failed at least one check. */
export interface BadEvent {
  /**
   * What was received: the payload item, the pixel's query parameters, or for a request-level
   * failure the request body (parsed when it was JSON, else its text, cut at 8 KiB).
   */
  raw: unknown;
  errors: EventError[];
  receivedAt: string;
}

export interface DecodeResult {
  good: GoodEvent[];
  bad: BadEvent[];
}
