import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { InvalidOptionError } from '../errors';
import { registryWith } from './builtin-registry';
import { CollectorContext, handleRequest, TP2_PATH } from './collector-routes';
import { CollectorCounts, CollectorRecord, CollectorSnapshot, EventStore, WaitCondition } from './event-store';
import type { FaultPlan } from './fault-plan';
import type { FaultPlanState } from './fault-runner';
import type { IgluRegistry } from './iglu-registry';
import type { CollectorRequest, EventTally } from './request-log';
import { CollectorBehaviour, TrackerTraffic } from './tracker-traffic';
import type { BadEvent, GoodEvent, RawEvent } from './types';
import { VIEWER_PATH } from './viewer-routes';

/** Options of `startLocalCollector(...)`. */
export interface LocalCollectorOptions {
  /** 0 (default) picks a free port. */
  port?: number;
  /** Interface to listen on; 127.0.0.1 by default. */
  host?: string;
  /** Registry directories added after the built-in one (later ones override earlier ones). */
  schemaDirs?: readonly string[];
  /** Called for every recorded event, good or bad. Exceptions it throws are ignored. */
  onEvent?: (record: CollectorRecord) => void;
  /** Largest POST body accepted; 10 MiB by default. */
  maxBodyBytes?: number;
  /**
   * Most events kept in memory (good and bad together); past it the oldest are forgotten and
   * counted as `dropped` in `all()` and `GET /micro/all`. 100,000 by default.
   */
  maxEvents?: number;
  /**
   * The most tracker requests `requests` keeps (bodies included); past it the oldest are dropped
   * and counted in `droppedRequests`. 10,000 by default.
   */
  maxRequests?: number;
  /** A fault plan in force from the start (see `setFaults`); checked at start. */
  faults?: FaultPlan;
  /** The per-request hook, from the start (see `LocalCollector.behaviour`). */
  behaviour?: CollectorBehaviour;
  /**
   * Called for every tracker request once its fate is known (answered, hung or reset), faulted or
   * not. Exceptions it throws are ignored.
   */
  onRequest?: (request: CollectorRequest) => void;
}

/** How long `LocalCollector.waitFor` waits. */
export interface WaitForOptions {
  /** 5000 by default. */
  timeoutMs?: number;
}

/** An in-process Snowplow collector that validates what it receives, like Snowplow Micro. */
export interface LocalCollector {
  /** Base URL, e.g. `http://127.0.0.1:40123`. */
  readonly url: string;
  /** The tracker POST endpoint: `url` + `/com.snowplowanalytics.snowplow/tp2`. */
  readonly endpoint: string;
  /** The event viewer page: `url` + `/micro/ui`. */
  readonly viewerUrl: string;
  /** The port it listens on. */
  readonly port: number;
  /** The schemas events are validated against. */
  readonly registry: IgluRegistry;
  /** The valid events received, decoded, in arrival order. */
  good(): GoodEvent[];
  /** The events that failed validation, with their errors. */
  bad(): BadEvent[];
  /** Counts, as Snowplow Micro's `GET /micro/all` gives them, with the events dropped past `maxEvents`. */
  all(): CollectorCounts;
  /**
   * Forgets every event (and the dropped count) and every request received; the viewer's lists
   * empty. The fault plan stays.
   */
  reset(): void;
  /**
   * Every tracker request (tp2 POST, pixel GET) in arrival order, with its fate and any fault: a
   * live, read-only view. Headers may hold credentials: never print them.
   */
  readonly requests: readonly CollectorRequest[];
  /** The raw payloads of every request answered 2xx, in arrival order. */
  events(): RawEvent[];
  /** The requests answered 2xx. */
  accepted(): CollectorRequest[];
  /**
   * What a real collector may have stored: the events of requests answered 2xx, and of requests
   * whose whole body was read before a hang or a reset.
   */
  stored(): RawEvent[];
  /** The eids of requests read in full but never answered (hung or reset): stored or not, nobody knows. */
  ambiguousEids(): Set<string>;
  /** Events and distinct eids over `events()` (accepted) and over `stored()`: duplicates show. */
  counts(): { accepted: EventTally; stored: EventTally };
  /** Resolves with `events()` once it holds at least `count` events; rejects after `timeoutMs` (20 s by default). */
  waitForEvents(count: number, timeoutMs?: number): Promise<RawEvent[]>;
  /** Requests dropped from `requests` (the oldest first) to keep at most `maxRequests`. */
  readonly droppedRequests: number;
  /** Tracker requests being read or answered right now. */
  readonly inFlight: number;
  /** The most tracker requests in flight at once so far. */
  readonly maxInFlight: number;
  /**
   * A hook deciding each tracker request's reply in code, before the fault plan; undefined (the
   * default) or a hook returning undefined leaves the request to the plan and the normal answer.
   */
  behaviour: CollectorBehaviour | undefined;
  /**
   * Decided when a tracker request starts: true resets the connection as soon as the first part of
   * the body arrived (fate `reset-mid-body`, or `reset` if that part was all of it).
   */
  resetMidBody: ((startedAt: number) => boolean) | undefined;
  /** The fault plan in force and how many requests each step took. */
  faults(): FaultPlanState;
  /** Replaces the fault plan (counts start afresh), or clears it with null. Throws `InvalidFaultPlanError`. */
  setFaults(plan: FaultPlan | null): FaultPlanState;
  /**
   * Resolves with the events once `condition` holds: a number is a total (good + bad) to reach,
   * a function is tested on every change. Rejects after `timeoutMs` or when the collector closes.
   */
  waitFor(condition: WaitCondition, options?: WaitForOptions): Promise<CollectorSnapshot>;
  /** Stops listening and drops open connections (in-flight requests see a reset). Safe to call twice. */
  close(): Promise<void>;
  /** Listens again on the same port after `close()` (for outage tests); the events and requests stay. */
  reopen(): Promise<void>;
}

export const DEFAULT_MAX_BODY_BYTES = 10 * 1024 * 1024;
export const DEFAULT_MAX_EVENTS = 100_000;
const DEFAULT_WAIT_MS = 5000;
const DEFAULT_EVENTS_WAIT_MS = 20_000;
const DEFAULT_MAX_REQUESTS = 10_000;

/**
 * Starts a local collector; resolves once it listens. Throws if a schema directory is broken, and
 * `InvalidFaultPlanError` if `options.faults` is not a valid plan.
 */
export async function startLocalCollector(options: LocalCollectorOptions = {}): Promise<LocalCollector> {
  const collector = new CollectorServer(options);
  await collector.listen(options.port ?? 0);
  return collector;
}

class CollectorServer implements LocalCollector {
  readonly registry: IgluRegistry;
  private readonly store: EventStore;
  private readonly traffic: TrackerTraffic;
  private readonly context: CollectorContext;
  private readonly host: string;
  private server?: http.Server;
  private boundPort = 0;
  private closing?: Promise<void>;

  constructor(options: LocalCollectorOptions) {
    this.registry = registryWith(options.schemaDirs);
    this.store = new EventStore(checkMaxEvents(options.maxEvents));
    const { onEvent } = options;
    if (onEvent) this.store.subscribe((change) => change.type === 'event' && onEvent(change.record));
    const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
    this.traffic = new TrackerTraffic(this.store, maxBodyBytes, checkMaxRequests(options.maxRequests));
    if (options.faults !== undefined) this.traffic.faults.set(options.faults);
    this.traffic.behaviour = options.behaviour;
    this.traffic.onRequest = options.onRequest;
    this.context = { registry: this.registry, store: this.store, maxBodyBytes, traffic: this.traffic };
    this.host = options.host ?? '127.0.0.1';
  }

  get port(): number {
    return this.boundPort;
  }
  get url(): string {
    return `http://${clientHost(this.host)}:${this.boundPort}`;
  }
  get endpoint(): string {
    return `${this.url}${TP2_PATH}`;
  }
  get viewerUrl(): string {
    return `${this.url}${VIEWER_PATH}`;
  }
  get requests(): readonly CollectorRequest[] {
    return this.traffic.log.requests;
  }
  get droppedRequests(): number {
    return this.traffic.log.dropped;
  }
  get inFlight(): number {
    return this.traffic.log.inFlight;
  }
  get maxInFlight(): number {
    return this.traffic.log.maxInFlight;
  }
  get behaviour(): CollectorBehaviour | undefined {
    return this.traffic.behaviour;
  }
  set behaviour(hook: CollectorBehaviour | undefined) {
    this.traffic.behaviour = hook;
  }
  get resetMidBody(): ((startedAt: number) => boolean) | undefined {
    return this.traffic.resetMidBody;
  }
  set resetMidBody(decide: ((startedAt: number) => boolean) | undefined) {
    this.traffic.resetMidBody = decide;
  }

  good = (): GoodEvent[] => this.store.snapshot().good;
  bad = (): BadEvent[] => this.store.snapshot().bad;
  all = (): CollectorCounts => this.store.counts();
  accepted = (): CollectorRequest[] => this.traffic.log.accepted();
  events = (): RawEvent[] => this.traffic.log.events();
  stored = (): RawEvent[] => this.traffic.log.stored();
  ambiguousEids = (): Set<string> => this.traffic.log.ambiguousEids();
  counts = (): { accepted: EventTally; stored: EventTally } => this.traffic.log.counts();
  faults = (): FaultPlanState => this.traffic.faults.state();
  setFaults = (plan: FaultPlan | null): FaultPlanState => this.traffic.faults.set(plan);

  reset(): void {
    this.store.reset();
    this.traffic.log.reset();
  }

  waitFor(condition: WaitCondition, options?: WaitForOptions): Promise<CollectorSnapshot> {
    return this.store.waitFor(condition, options?.timeoutMs ?? DEFAULT_WAIT_MS);
  }

  waitForEvents(count: number, timeoutMs = DEFAULT_EVENTS_WAIT_MS): Promise<RawEvent[]> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const events = this.events();
        if (events.length < count) return;
        stop();
        clearTimeout(timer);
        resolve(events);
      };
      const stop = this.traffic.log.listen(check);
      const timer = setTimeout(() => {
        stop();
        reject(
          new Error(
            `timed out after ${timeoutMs} ms waiting for ${count} events at the collector (have ${this.events().length})`,
          ),
        );
      }, timeoutMs);
      check();
    });
  }

  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  async reopen(): Promise<void> {
    await this.close();
    this.closing = undefined;
    await this.listen(this.boundPort);
  }

  async listen(port: number): Promise<void> {
    const server = http.createServer((req, res) => void handleRequest(req, res, this.context));
    // Longer than a client's idle keep-alive, so the server never closes a socket a client is reusing.
    server.keepAliveTimeout = 60_000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, this.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.server = server;
    this.boundPort = (server.address() as AddressInfo).port;
  }

  private shutdown(): Promise<void> {
    this.store.failWaiters(new Error('the local collector was closed'));
    const server = this.server;
    if (!server) return Promise.resolve();
    return new Promise((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
      this.traffic.wakeAll();
    });
  }
}

function checkMaxEvents(value: number | undefined): number {
  if (value === undefined) return DEFAULT_MAX_EVENTS;
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new InvalidOptionError('maxEvents', `must be a positive integer, got ${String(value)}`);
  }
  return value;
}

function checkMaxRequests(value: number | undefined): number {
  if (value === undefined) return DEFAULT_MAX_REQUESTS;
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new InvalidOptionError('maxRequests', `must be a positive integer, got ${String(value)}`);
  }
  return value;
}

/** The host a client should dial: wildcard addresses become loopback, IPv6 gets brackets. */
function clientHost(host: string): string {
  if (host === '0.0.0.0') return '127.0.0.1';
  if (host === '::') return '[::1]';
  return host.includes(':') ? `[${host}]` : host;
}
