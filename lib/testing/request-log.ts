import type { IncomingHttpHeaders } from 'node:http';
import type { RawEvent } from './types';

/** What became of a tracker request at the local collector. */
export type RequestFate =
  /** Answered with `status` (possibly with the body cut off by a `cutAfterBytes` reply). */
  | 'answered'
  /** The whole body was read, then no answer: a real collector may have stored its events. */
  | 'hung'
  /** The whole body was read, then the socket was reset: a real collector may have stored its events. */
  | 'reset'
  /** The socket was reset before the body was complete: nothing of it can have been stored. */
  | 'reset-mid-body';

/** Which fault a request got, and from where: a step of the fault plan, or the `behaviour` hook. */
export interface RequestFault {
  /** `plan` for a fault plan step, `behaviour` for the programmatic hook. */
  source: 'plan' | 'behaviour';
  /** The index of the plan step (plan faults only). */
  step?: number;
  /** What it did. */
  kind: 'status' | 'delay' | 'hang' | 'reset';
}

/** One tracker request (a POST to tp2 or a pixel GET) as the local collector saw it. */
export interface CollectorRequest {
  /** HTTP method. */
  method: string;
  /** Path and query as sent. */
  url: string;
  /** Request headers (they may hold credentials: never print them). */
  headers: IncomingHttpHeaders;
  /** The body as received (UTF-8); partial when `complete` is false; empty for a pixel GET. */
  body: string;
  /** The whole body arrived (false only for a reset mid-body). */
  complete: boolean;
  /** Epoch milliseconds: when the request started, or for a POST read in full, when its body was read. */
  receivedAt: number;
  /** The status answered (undefined when hung or reset). */
  status?: number;
  /** What became of it (undefined while it is being answered). */
  fate?: RequestFate;
  /** Set when the request was faulted on purpose. */
  fault?: RequestFault;
}

/**
 * A request as `GET /micro/requests` and the viewer's stream list it: no headers (they may hold
 * credentials), no query, no body.
 */
export interface RequestSummary {
  method: string;
  path: string;
  receivedAt: string;
  complete: boolean;
  status?: number;
  fate?: RequestFate;
  fault?: RequestFault;
}

/** Summarizes a request without its headers, query or body. */
export function summarizeRequest(request: CollectorRequest): RequestSummary {
  const { method, url, complete, status, fate, fault } = request;
  const path = new URL(url, 'http://collector.invalid').pathname;
  return { method, path, receivedAt: new Date(request.receivedAt).toISOString(), complete, status, fate, fault };
}

/**
 * What a log listener hears: a request added or settled (with its index since the last reset), or a
 * reset; nothing when only the in-flight count changed.
 */
export type RequestLogChange = { type: 'request'; id: number; request: CollectorRequest } | { type: 'reset' };

/** Events counted by eid: `total` events and `distinct` eids. */
export interface EventTally {
  /** Events, duplicates included. */
  total: number;
  /** Distinct eids. */
  distinct: number;
}

// Payloads parsed once per request: waiting on the log reads them after every change.
const parsed = new WeakMap<CollectorRequest, RawEvent[]>();

/** The tracker payloads of one request: the POST's payload_data items, or the pixel's query. */
export function requestPayloads(request: CollectorRequest): RawEvent[] {
  // A record is made once its body was read (in full or up to a reset): the body never changes.
  let payloads = parsed.get(request);
  if (!payloads) {
    payloads = parsePayloads(request);
    parsed.set(request, payloads);
  }
  return payloads;
}

function parsePayloads(request: CollectorRequest): RawEvent[] {
  if (request.method === 'GET') {
    const query = new URL(request.url, 'http://collector.invalid').searchParams;
    return [Object.fromEntries(query)];
  }
  try {
    const data = (JSON.parse(request.body) as { data?: unknown }).data;
    return Array.isArray(data)
      ? data.filter((item): item is RawEvent => typeof item === 'object' && item !== null)
      : [];
  } catch {
    return [];
  }
}

const is2xx = (r: CollectorRequest) => r.status !== undefined && r.status >= 200 && r.status < 300;
const ambiguous = (r: CollectorRequest) => r.complete && (r.fate === 'hung' || r.fate === 'reset');

function tally(events: RawEvent[]): EventTally {
  return { total: events.length, distinct: new Set(events.map((e) => e.eid)).size };
}

/** Every tracker request in arrival order, with its fate; views over it for delivery checks. */
export class RequestLog {
  private entries: CollectorRequest[] = [];
  /** Requests dropped (oldest first) to keep at most `maxRequests`. */
  dropped = 0;
  private readonly listeners = new Set<(change?: RequestLogChange) => void>();
  /** Each request's index, in the generation (counted in resets) it arrived in. */
  private readonly ids = new WeakMap<CollectorRequest, { index: number; generation: number }>();
  private generation = 0;
  /** Requests whose headers arrived and that have not been answered, hung up or reset yet. */
  inFlight = 0;
  /** The most requests in flight at once so far. */
  maxInFlight = 0;

  get requests(): readonly CollectorRequest[] {
    return this.entries;
  }

  constructor(private readonly maxRequests: number) {}

  /** Adds a request, dropping the oldest past `maxRequests`; returns its index since the last reset. */
  add(request: CollectorRequest): number {
    const index = this.dropped + this.entries.push(request) - 1;
    this.ids.set(request, { index, generation: this.generation });
    if (this.entries.length > this.maxRequests) {
      const excess = this.entries.length - this.maxRequests;
      this.entries.splice(0, excess);
      this.dropped += excess;
    }
    this.changed({ type: 'request', id: index, request });
    return index;
  }

  /** Tells the waiters that something changed: a request's fate (`change`), or the in-flight count. */
  changed(change?: RequestLogChange): void {
    for (const listener of [...this.listeners]) listener(change);
  }

  /** Tells the listeners that this request's fate is known now (without its id if a reset forgot it). */
  settled(request: CollectorRequest): void {
    const id = this.ids.get(request);
    const current = id !== undefined && id.generation === this.generation;
    this.changed(current ? { type: 'request', id: id.index, request } : undefined);
  }

  /** Calls `listener` after every change until the returned function is called. */
  listen(listener: (change?: RequestLogChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  reset(): void {
    this.entries = [];
    this.dropped = 0;
    this.maxInFlight = this.inFlight;
    this.generation++;
    this.changed({ type: 'reset' });
  }

  accepted(): CollectorRequest[] {
    return this.entries.filter(is2xx);
  }

  events(): RawEvent[] {
    return this.accepted().flatMap(requestPayloads);
  }

  stored(): RawEvent[] {
    return this.entries.filter((r) => is2xx(r) || ambiguous(r)).flatMap(requestPayloads);
  }

  ambiguousEids(): Set<string> {
    return new Set(
      this.entries
        .filter(ambiguous)
        .flatMap(requestPayloads)
        .map((e) => e.eid),
    );
  }

  counts(): { accepted: EventTally; stored: EventTally } {
    return { accepted: tally(this.events()), stored: tally(this.stored()) };
  }
}
