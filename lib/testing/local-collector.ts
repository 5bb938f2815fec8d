import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { InvalidOptionError } from '../errors';
import { registryWith } from './builtin-registry';
import { handleRequest, TP2_PATH } from './collector-routes';
import { CollectorCounts, CollectorRecord, CollectorSnapshot, EventStore, WaitCondition } from './event-store';
import type { IgluRegistry } from './iglu-registry';
import { VIEWER_PATH } from './viewer-routes';
import type { BadEvent, GoodEvent } from './types';

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
  /** Forgets every event received (and the dropped count); the viewer's list empties. */
  reset(): void;
  /**
   * Resolves with the events once `condition` holds: a number is a total (good + bad) to reach,
   * a function is tested on every change. Rejects after `timeoutMs` or when the collector closes.
   */
  waitFor(condition: WaitCondition, options?: WaitForOptions): Promise<CollectorSnapshot>;
  /** Stops listening and drops open connections. Safe to call twice. */
  close(): Promise<void>;
}

export const DEFAULT_MAX_BODY_BYTES = 10 * 1024 * 1024;
export const DEFAULT_MAX_EVENTS = 100_000;
const DEFAULT_WAIT_MS = 5000;

/** Starts a local collector; resolves once it listens. Throws if a schema directory is broken. */
export async function startLocalCollector(options: LocalCollectorOptions = {}): Promise<LocalCollector> {
  const registry = registryWith(options.schemaDirs);
  const store = new EventStore(checkMaxEvents(options.maxEvents));
  const { onEvent } = options;
  if (onEvent) store.subscribe((change) => change.type === 'event' && onEvent(change.record));
  const context = { registry, store, maxBodyBytes: options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES };
  const server = http.createServer((req, res) => void handleRequest(req, res, context));
  const host = options.host ?? '127.0.0.1';
  await listen(server, options.port ?? 0, host);
  const { port } = server.address() as AddressInfo;
  const url = `http://${clientHost(host)}:${port}`;
  let closing: Promise<void> | undefined;
  return {
    url,
    endpoint: `${url}${TP2_PATH}`,
    viewerUrl: `${url}${VIEWER_PATH}`,
    port,
    registry,
    good: () => store.snapshot().good,
    bad: () => store.snapshot().bad,
    all: () => store.counts(),
    reset: () => store.reset(),
    waitFor: (condition, waitOptions) => store.waitFor(condition, waitOptions?.timeoutMs ?? DEFAULT_WAIT_MS),
    close: () => {
      closing ??= shutdown(server, store);
      return closing;
    },
  };
}

function checkMaxEvents(value: number | undefined): number {
  if (value === undefined) return DEFAULT_MAX_EVENTS;
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new InvalidOptionError('maxEvents', `must be a positive integer, got ${String(value)}`);
  }
  return value;
}

function listen(server: http.Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

function shutdown(server: http.Server, store: EventStore): Promise<void> {
  store.failWaiters(new Error('the local collector was closed'));
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

/** The host a client should dial: wildcard addresses become loopback, IPv6 gets brackets. */
function clientHost(host: string): string {
  if (host === '0.0.0.0') return '127.0.0.1';
  if (host === '::') return '[::1]';
  return host.includes(':') ? `[${host}]` : host;
}
