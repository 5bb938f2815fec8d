/** A self-describing JSON: data plus the Iglu URI of the schema it follows. */
export interface SelfDescribingJson<T = unknown> {
  /** The Iglu URI of `data`. */
  schema: string;
  /** The self-describing data. */
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
  /** The payload_data item as received. */
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
  /** The field at fault, e.g. `ue_px` or `cx`. */
  field: string;
  /** The Iglu URI involved, when a schema check failed or a schema is unknown. */
  schema?: string;
  /** JSON pointer to the failing value: into the decoded JSON of `field`, or into the body. */
  path?: string;
  /** Why, in words. */
  message: string;
}

/** An event (or request) that failed at least one check. */
export interface BadEvent {
  /**
   * What was received: the payload item, the pixel's query parameters, or for a request-level
   * failure the request body (parsed when it was JSON, else its text, cut at 8 KiB).
   */
  raw: unknown;
  /** Every reason the event is invalid. */
  errors: EventError[];
  /** ISO-8601 time the collector received the request. */
  receivedAt: string;
}

/** The events of one request body, sorted into valid and invalid. */
export interface DecodeResult {
  /** Valid events, decoded. */
  good: GoodEvent[];
  /** Invalid events, with their errors. */
  bad: BadEvent[];
}
