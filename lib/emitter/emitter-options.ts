import { AxiosInstance } from 'axios';
import { TokenSource } from '../auth/token-source.interface';
import { InvalidCollectorUrlError, InvalidOptionError } from '../errors';
import { DEFAULT_BILLING_CAPACITY, DEFAULT_CAPACITY, EventStorage, StorageConfig } from '../storage';
import { redactUrl } from '../utils/redact-url';
import { MAX_TIMER_MS } from '../utils/timers';
import { checkInteger, checkMethods, checkNumber, checkObject, checkStatusCodes } from '../validation';
import { BackoffOptions, DEFAULT_BACKOFF } from './backoff';
import { EmitterCallback, EmitterLogger, EmitterObserver } from './send-result';

/** The billing lane: billing events wait apart from custom events, which never evict them. */
export interface BillingLaneOptions {
  /** Most billing events waiting; past it a billing event is dead-lettered (never overwritten). Default 10,000. */
  capacity?: number;
}

/** Where events that will never be delivered are written, one JSON line each. */
export interface DeadLetterOptions {
  /**
   * The JSONL file; created with mode 0600 when missing, appended to otherwise. A symbolic link is
   * refused (`DeadLetterSymlinkError`), and so is a regular file its group or others may access
   * (`DeadLetterModeError`).
   */
  path: string;
}

/** Options of `new Emitter(...)`; every one but `collectorUrl` has a default. */
export interface EmitterOptions {
  /**
   * The collector's tp2 endpoint, e.g. `http://localhost:9090/com.snowplowanalytics.snowplow/tp2`.
   * A bare origin (`http://host:9090`) gets `/com.snowplowanalytics.snowplow/tp2` appended.
   */
  collectorUrl: string;
  /** Most events per request while at most one batch waits. Default 100. */
  batchSize?: number;
  /**
   * Most events per request while more than one batch waits (a backlog after an outage, a burst):
   * batches grow up to this size (and `maxBatchBytes`), so a backlog costs fewer requests.
   * Default 1,000 (and never below `batchSize`).
   */
  maxBatchSize?: number;
  /** Custom events waiting before the oldest is overwritten. Default 10,000. */
  capacity?: number;
  /** The billing lane's size. */
  billing?: BillingLaneOptions;
  /** Writes every event that will never be delivered to a JSONL file (see `replayDeadLetters`). */
  deadLetter?: DeadLetterOptions;
  /**
   * Where events wait: `{ type: 'sqlite', path }` for the durable outbox, `{ type: 'memory' }`
   * (the default ring buffer), or your own `EventStorage` instance (which you then close).
   */
  storage?: EventStorage | StorageConfig;
  /** Per request, ms. Default 5,000. */
  requestTimeoutMs?: number;
  /** Called once per send pass with what was delivered and what failed. */
  callback?: EmitterCallback;
  /**
   * Adds an `Authorization` header to every request (see `StaticTokenSource`, `FileTokenSource`, `OidcTokenSource`).
   */
  tokenSource?: TokenSource;
  /** Audience passed to the token source. Default: the collector URL's origin. */
  audience?: string;
  /**
   * An axios instance to send with (the Nest module passes `HttpService.axiosRef`); the emitter's
   * own keep-alive agents are used with it. Default: a new instance.
   */
  httpClient?: AxiosInstance;
  /** Where the emitter logs (default: the console). The Nest module passes Nest's `Logger`. */
  logger?: EmitterLogger;
  /** Metrics hooks (the Nest module passes its `EmitterMetrics`). */
  observer?: EmitterObserver;
  /** Largest request body, envelope included. Default 1,000,000 bytes. */
  maxBatchBytes?: number;
  /** Largest single event; bigger ones are refused at track time. Default: maxBatchBytes minus the envelope. */
  maxEventBytes?: number;
  /** Batches in flight at once. Default 4. */
  maxConcurrentRequests?: number;
  /**
   * When fewer than `batchSize` events wait, wait this long for more before sending, ms, so a
   * steady trickle goes out in fuller batches. `flush()`, `drain()` and `stop()` skip the wait;
   * 0 sends at once. Default 20.
   */
  lingerMs?: number;
  /**
   * The latency budget of a batch under sustained load, ms. When the previous batch reached
   * `batchSize` before `lingerMs` ran out, and the next one's first event came within `maxLingerMs` of
   * its leaving and reaches `batchSize` within `lingerMs` too, that batch waits up to this long,
   * counted from when its first event was queued, to fill up to `maxBatchSize` (or `maxBatchBytes`): fewer, fuller
   * requests at the same rate (as Kafka's producer does with `linger.ms` and `batch.size`). Under
   * light load it changes nothing. Billing events never wait for it (they leave at once in a
   * request of their own), nor do `flush()`, `drain()` and `stop()`. 0 turns it off; otherwise at
   * least `lingerMs`. Default 100 (0 when `lingerMs` is 0; `lingerMs` when that is larger).
   */
  maxLingerMs?: number;
  /** The backoff between failed attempts. Default `{ baseMs: 100, factor: 2, capMs: 30000 }`. */
  backoff?: BackoffOptions;
  /** Statuses that are always retried, even when listed in `dontRetryStatusCodes`. */
  retryStatusCodes?: number[];
  /**
   * Statuses whose events are never retried: dead-lettered as rejected (400 and 422 after the
   * batch was halved down to the events the collector refuses). Default 400, 410, 422.
   */
  dontRetryStatusCodes?: number[];
  /** Longest Retry-After honoured, ms. Default 300,000. */
  maxRetryAfterMs?: number;
  /** Drop an event as expired after this many failed attempts. Default: never. */
  maxAttempts?: number;
  /** Drop an event as expired when it fails after being this old, ms. Default: never. */
  maxEventAgeMs?: number;
  /**
   * When the process is about to end on its own (`beforeExit`: a script that never called
   * `drain()` or `stop()`) with events of a started emitter not yet sent: how long to keep sending
   * them, ms. Then the emitter stops, and what is left is accounted for as by `stop()`. 0 stops at
   * once. Default 5,000.
   */
  exitDrainTimeoutMs?: number;
}

/** Every EmitterOptions key: typed as a Record so the compiler rejects a missing or stale one. */
const EMITTER_OPTION_KEYS: Record<keyof EmitterOptions, true> = {
  collectorUrl: true,
  batchSize: true,
  maxBatchSize: true,
  capacity: true,
  billing: true,
  deadLetter: true,
  storage: true,
  requestTimeoutMs: true,
  callback: true,
  tokenSource: true,
  audience: true,
  httpClient: true,
  logger: true,
  observer: true,
  maxBatchBytes: true,
  maxEventBytes: true,
  maxConcurrentRequests: true,
  lingerMs: true,
  maxLingerMs: true,
  backoff: true,
  retryStatusCodes: true,
  dontRetryStatusCodes: true,
  maxRetryAfterMs: true,
  maxAttempts: true,
  maxEventAgeMs: true,
  exitDrainTimeoutMs: true,
};

export const EMITTER_OPTION_NAMES = Object.keys(EMITTER_OPTION_KEYS) as ReadonlyArray<keyof EmitterOptions>;

export const DEFAULT_BATCH_SIZE = 100;
export const DEFAULT_MAX_BATCH_SIZE = 1_000;
export const DEFAULT_REQUEST_TIMEOUT_MS = 5_000;
export const DEFAULT_MAX_BATCH_BYTES = 1_000_000;
export const DEFAULT_MAX_CONCURRENT_REQUESTS = 4;
export const DEFAULT_LINGER_MS = 20;
export const DEFAULT_MAX_LINGER_MS = 100;
export const DEFAULT_EXIT_DRAIN_TIMEOUT_MS = 5_000;
export const DEFAULT_DONT_RETRY_STATUS_CODES: readonly number[] = [400, 410, 422];

/** The path a bare-origin collectorUrl gets, as Snowplow's trackers do. */
export const TP2_PATH = '/com.snowplowanalytics.snowplow/tp2';
export const DEFAULT_MAX_RETRY_AFTER_MS = 300_000;

/**
 * `EmitterOptions` as the emitter uses them: checked, defaults filled in, the collector URL's user
 * part and query values masked.
 */
export type ResolvedEmitterOptions = Required<
  Pick<
    EmitterOptions,
    | 'batchSize'
    | 'maxBatchSize'
    | 'capacity'
    | 'requestTimeoutMs'
    | 'maxBatchBytes'
    | 'maxConcurrentRequests'
    | 'lingerMs'
    | 'maxLingerMs'
    | 'maxRetryAfterMs'
    | 'audience'
    | 'exitDrainTimeoutMs'
  >
> &
  Omit<EmitterOptions, 'collectorUrl' | 'backoff' | 'billing'> & {
    /**
     * The collector URL with its user part (name and password) and query values masked (the
     * emitter keeps the real one to itself).
     */
    collectorUrl: string;
    billingCapacity: number;
    backoff: Required<BackoffOptions>;
    maxEventBytes: number;
    dontRetry: ReadonlySet<number>;
  };

/** Parses and checks a collector URL; messages never include the URL's credentials. */
export function parseCollectorUrl(value: unknown, option = 'collectorUrl'): URL {
  if (typeof value !== 'string' || value.trim() === '') {
    throw new InvalidCollectorUrlError(option, 'must be a non-empty string (an absolute http or https URL)');
  }
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new InvalidCollectorUrlError(
      option,
      'is not an absolute URL (expected e.g. http://host:9090/com.snowplowanalytics.snowplow/tp2)',
    );
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new InvalidCollectorUrlError(option, `must use http or https, got ${url.protocol.replace(/:$/, '')}`);
  }
  if (url.pathname === '/' && url.search === '') url.pathname = TP2_PATH;
  return url;
}

/** Validates every option and fills in defaults. Throws `InvalidOptionError` naming the option. */
export function resolveEmitterOptions(options: EmitterOptions, envelope: number): ResolvedEmitterOptions {
  if (options === null || typeof options !== 'object') throw new InvalidOptionError('options', 'must be an object');
  const collectorUrl = parseCollectorUrl(options.collectorUrl);
  checkMethods('callback', options.callback, []);
  checkMethods('tokenSource', options.tokenSource, ['enhanceHeader']);
  checkMethods('httpClient', options.httpClient, ['request']);
  checkMethods('logger', options.logger, ['warn', 'error']);
  checkMethods('observer', options.observer, [
    'eventsEnqueued',
    'requestFinished',
    'eventsSent',
    'eventsDropped',
    'authFailed',
  ]);
  if (options.tokenSource && (collectorUrl.username || collectorUrl.password)) {
    throw new InvalidOptionError(
      'tokenSource',
      'cannot be combined with credentials in collectorUrl (both set the Authorization header)',
    );
  }
  if (options.audience !== undefined && typeof options.audience !== 'string') {
    throw new InvalidOptionError('audience', 'must be a string');
  }
  const backoffInput = checkObject('backoff', options.backoff, '{ baseMs?, factor?, capMs? }');
  const backoff = {
    baseMs: checkNumber('backoff.baseMs', backoffInput.baseMs, 1, DEFAULT_BACKOFF.baseMs),
    factor: checkNumber('backoff.factor', backoffInput.factor, 1, DEFAULT_BACKOFF.factor),
    capMs: Math.min(checkNumber('backoff.capMs', backoffInput.capMs, 1, DEFAULT_BACKOFF.capMs), MAX_TIMER_MS),
  };
  const maxBatchBytes = checkInteger(
    'maxBatchBytes',
    options.maxBatchBytes,
    { min: envelope + 64 },
    DEFAULT_MAX_BATCH_BYTES,
  );
  const maxEventBytes = checkInteger('maxEventBytes', options.maxEventBytes, { min: 1 }, maxBatchBytes - envelope);
  if (maxEventBytes > maxBatchBytes - envelope) {
    throw new InvalidOptionError(
      'maxEventBytes',
      `must be at most maxBatchBytes minus the ${envelope}-byte envelope (${maxBatchBytes - envelope})`,
    );
  }
  const { billing: billingInput, ...rest } = options;
  const billing = checkObject('billing', billingInput, '{ capacity? }');
  if (options.deadLetter !== undefined) checkObject('deadLetter', options.deadLetter, '{ path }');
  const retry = new Set(checkStatusCodes('retryStatusCodes', options.retryStatusCodes) ?? []);
  const dontRetryList =
    checkStatusCodes('dontRetryStatusCodes', options.dontRetryStatusCodes) ?? DEFAULT_DONT_RETRY_STATUS_CODES;
  const batchSize = checkInteger('batchSize', options.batchSize, { min: 1 }, DEFAULT_BATCH_SIZE);
  const maxBatchSize = checkInteger(
    'maxBatchSize',
    options.maxBatchSize,
    { min: 1 },
    Math.max(batchSize, DEFAULT_MAX_BATCH_SIZE),
  );
  if (maxBatchSize < batchSize) {
    throw new InvalidOptionError('maxBatchSize', `must be at least batchSize (${batchSize})`);
  }
  const lingerMs = checkInteger('lingerMs', options.lingerMs, { min: 0, max: 60_000 }, DEFAULT_LINGER_MS);
  const maxLingerMs = checkInteger(
    'maxLingerMs',
    options.maxLingerMs,
    { min: 0, max: 60_000 },
    lingerMs === 0 ? 0 : Math.max(DEFAULT_MAX_LINGER_MS, lingerMs),
  );
  if (maxLingerMs !== 0 && maxLingerMs < lingerMs) {
    throw new InvalidOptionError('maxLingerMs', `must be 0 (off) or at least lingerMs (${lingerMs})`);
  }
  return {
    ...rest,
    storage: maskStorage(options.storage),
    collectorUrl: redactUrl(collectorUrl),
    audience: options.audience ?? collectorUrl.origin,
    batchSize,
    maxBatchSize,
    capacity: checkInteger('capacity', options.capacity, { min: 1 }, DEFAULT_CAPACITY),
    billingCapacity: checkInteger('billing.capacity', billing.capacity, { min: 1 }, DEFAULT_BILLING_CAPACITY),
    requestTimeoutMs: checkInteger(
      'requestTimeoutMs',
      options.requestTimeoutMs,
      { min: 1, max: MAX_TIMER_MS },
      DEFAULT_REQUEST_TIMEOUT_MS,
    ),
    maxConcurrentRequests: checkInteger(
      'maxConcurrentRequests',
      options.maxConcurrentRequests,
      { min: 1 },
      DEFAULT_MAX_CONCURRENT_REQUESTS,
    ),
    lingerMs,
    maxLingerMs,
    maxRetryAfterMs: checkInteger(
      'maxRetryAfterMs',
      options.maxRetryAfterMs,
      { min: 0, max: MAX_TIMER_MS },
      DEFAULT_MAX_RETRY_AFTER_MS,
    ),
    maxAttempts:
      options.maxAttempts === undefined ? undefined : checkInteger('maxAttempts', options.maxAttempts, { min: 1 }, 0),
    maxEventAgeMs:
      options.maxEventAgeMs === undefined
        ? undefined
        : checkInteger('maxEventAgeMs', options.maxEventAgeMs, { min: 1 }, 0),
    exitDrainTimeoutMs: checkInteger(
      'exitDrainTimeoutMs',
      options.exitDrainTimeoutMs,
      { min: 0, max: MAX_TIMER_MS },
      DEFAULT_EXIT_DRAIN_TIMEOUT_MS,
    ),
    maxBatchBytes,
    maxEventBytes,
    backoff,
    dontRetry: new Set(dontRetryList.filter((code) => !retry.has(code))),
  };
}

/**
 * The storage option as the resolved options show it: a database connection string's user part
 * (its password) and query values masked. The store itself is built from the option as given.
 */
function maskStorage(storage: EmitterOptions['storage']): EmitterOptions['storage'] {
  const connectionString = (storage as { connectionString?: unknown } | undefined)?.connectionString;
  if (typeof connectionString !== 'string') return storage;
  return { ...(storage as StorageConfig), connectionString: redactUrl(connectionString) } as StorageConfig;
}
