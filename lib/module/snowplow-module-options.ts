import type { HttpService } from '@nestjs/axios';
import type { AxiosRequestConfig } from 'axios';
import { EmitterOptions } from '../emitter/emitter-options';
import { InvalidOptionError } from '../errors';
import { MetricsOptions } from '../metrics';
import type { GlobalEntity } from '../tracker/global-entities';
import { TrackerOptions } from '../tracker/tracker';
import { describeType } from '../utils';
import { checkInteger, checkMethods } from '../validation';
import { DEFAULT_CORRELATION_ID_HEADERS, DEFAULT_CORRELATION_ID_MAX_LENGTH } from './correlation-id';
import type { SnowplowRequestContext } from './request-context';
import type { RequestSubjectSource } from './request-subject';

/**
 * Options of `SnowplowModule.forRoot()` / `forRootAsync()`: the emitter's options (but the ones
 * the module supplies itself: its HTTP client, logger and metrics observer), the tracker's, and
 * the module's own.
 */
export interface SnowplowModuleOptions extends Omit<EmitterOptions, 'httpClient' | 'logger' | 'observer'> {
  /** `aid` of every event. */
  appId: string;
  /** `tna` of every event. Default `gitlab`. */
  namespace?: string;
  /** `ua` of every event. Default `nestjs-snowplow/<version>`. */
  userAgent?: string;
  /** How long shutdown waits for the queue to drain before aborting, ms. Default 10,000. */
  shutdownTimeoutMs?: number;
  /**
   * Prometheus metrics: `{ prefix?, labels?, registry? }`, or `false` for none. Default on. Every
   * series carries `tracker="<name>"` (`"default"` for the unnamed instance).
   */
  metrics?: Omit<MetricsOptions, 'tracker'> | false;
  /**
   * axios settings for the module's own `HttpService` (proxy, headers, `httpAgent` settings...).
   * Ignored when `httpService` is given. The emitter's keep-alive agents, timeout and the
   * request's own settings (body, no redirects, status handling) take precedence.
   */
  http?: AxiosRequestConfig;
  /**
   * An `HttpService` of `@nestjs/axios` to send with, e.g. the one of your own `HttpModule` with
   * its interceptors (inject it in `forRootAsync`). Default: one of the module's own, so app-wide
   * axios defaults and interceptors never see collector traffic.
   */
  httpService?: HttpService;
  /**
   * Where a request's correlation id is read from, first present wins: HTTP request headers (any
   * casing), or the same keys in a microservice message's headers or metadata. Billing events
   * tracked inside the request without a `correlationId` get it. Default
   * `['x-request-id', 'x-correlation-id']`; `[]` reads none.
   */
  correlationIdHeaders?: readonly string[];
  /**
   * The longest correlation id taken from a request, in characters (UTF-16 code units). Default
   * 128. A longer value is dropped, not cut (a cut id would join the wrong request): the request
   * then has no correlation id, the first drop is logged and each is counted in
   * `snowplow_correlation_ids_rejected_total{reason="too_long"}`. A header sent twice gives its
   * first value.
   */
  correlationIdMaxLength?: number;
  /**
   * Extra props for every custom event tracked inside a request (by `@TrackEvent` or
   * `TrackerService`): called once per request, on its first custom event; the event's own props
   * win. A throw or a result that is not a plain JSON object is logged, counted in
   * `snowplow_track_errors_total{source="enrich"}` and ignored: the event is still tracked.
   */
  enrich?: (context: SnowplowRequestContext) => Record<string, unknown>;
  /**
   * Subject fields for every event tracked inside a request (by the decorators or
   * `TrackerService`), from the request context: called once per request, on its first event.
   * They win over nothing but the event's own `options.subject`. Unset (the default), nothing from
   * the request is sent: personal data goes out only when you write it here. For example
   * `({ request }) => ({ ip: request?.ip, ua: request?.headers?.['user-agent'], uid: request?.user?.id })`
   * (`request.ip` honours Express's `trust proxy` and Fastify's `trustProxy`). A field the protocol
   * refuses is left out (the event is still sent), counted in
   * `snowplow_track_errors_total{source="subject"}` and logged once.
   */
  subject?: RequestSubjectSource;
  /**
   * Strict mode, for development and tests (off by default; leave it off in production):
   * `{ schemas: './iglu' }` checks every event's data and entities against those local Iglu
   * schemas at track time and throws a `SchemaValidationError` naming the JSON path. Needs ajv and
   * ajv-formats. See `TrackerOptions.validate`.
   */
  validate?: TrackerOptions['validate'];
  /**
   * Global entities for every event of the tracker (see `TrackerOptions.entities`): static
   * entities, generators `(event) => entity | entity[] | undefined` and conditional entries
   * `{ entity, accept?, reject?, filter? }`. A generator or filter that throws, or an invalid
   * generated entity, is left out (the event is still sent), counted in
   * `snowplow_track_errors_total{source="entities"}` and logged at most once per 10 s.
   */
  entities?: readonly GlobalEntity[];
  /**
   * `true` adds the built-in `iglu:dev.nestjs-snowplow/request/jsonschema/1-0-0` entity to every
   * event tracked inside a request, after the `entities`: Nest's context `type`, the request's
   * `correlationId` (when it has one of at most 1,024 characters) and, when the optional
   * `@opentelemetry/api` is installed and a span is active, its `traceId` and `spanId`. Its schema
   * is in the package's `iglu/` folder: add it to your Iglu registry. Default `false`. It needs the
   * request context, so it opens one for every handler call even with `correlationIdHeaders: []`.
   */
  requestEntity?: boolean;
}

export const DEFAULT_SHUTDOWN_TIMEOUT_MS = 10_000;

/** Which part takes an option. */
type Owner = 'emitter' | 'tracker' | 'module';

/**
 * Every module option, declared once, with the part that takes it. A Record over the options'
 * keys: the compiler rejects a missing or stale entry.
 */
const OPTION_OWNERS: Record<keyof SnowplowModuleOptions, Owner> = {
  collectorUrl: 'emitter',
  batchSize: 'emitter',
  maxBatchSize: 'emitter',
  capacity: 'emitter',
  billing: 'emitter',
  deadLetter: 'emitter',
  storage: 'emitter',
  requestTimeoutMs: 'emitter',
  callback: 'emitter',
  tokenSource: 'emitter',
  audience: 'emitter',
  maxBatchBytes: 'emitter',
  maxEventBytes: 'emitter',
  maxConcurrentRequests: 'emitter',
  lingerMs: 'emitter',
  maxLingerMs: 'emitter',
  backoff: 'emitter',
  retryStatusCodes: 'emitter',
  dontRetryStatusCodes: 'emitter',
  maxRetryAfterMs: 'emitter',
  maxAttempts: 'emitter',
  maxEventAgeMs: 'emitter',
  exitDrainTimeoutMs: 'emitter',
  appId: 'tracker',
  namespace: 'tracker',
  userAgent: 'tracker',
  validate: 'tracker',
  shutdownTimeoutMs: 'module',
  metrics: 'module',
  http: 'module',
  httpService: 'module',
  correlationIdHeaders: 'module',
  correlationIdMaxLength: 'module',
  enrich: 'module',
  subject: 'module',
  entities: 'tracker',
  requestEntity: 'module',
};

/** The module's options, checked and split by the part that takes them. */
export interface ModuleParts {
  emitter: Omit<EmitterOptions, 'httpClient' | 'logger' | 'observer'>;
  tracker: Omit<TrackerOptions, 'emitter' | 'defaultCorrelationId'>;
  shutdownTimeoutMs: number;
  metrics: MetricsOptions | false;
  http: AxiosRequestConfig;
  httpService?: HttpService;
  /** Lower-case header names, in the order they are looked for. */
  correlationIdHeaders: readonly string[];
  /** The longest correlation id taken from a request, characters. */
  correlationIdMaxLength: number;
  enrich?: SnowplowModuleOptions['enrich'];
  subject?: RequestSubjectSource;
  requestEntity: boolean;
}

/**
 * Checks what only the module knows about (unknown keys, the module's own options) and splits the
 * rest between the emitter and the tracker, which check their own.
 */
export function splitModuleOptions(options: SnowplowModuleOptions): ModuleParts {
  if (options === null || typeof options !== 'object') {
    throw new InvalidOptionError('options', 'SnowplowModule needs an options object with collectorUrl and appId');
  }
  const parts: Record<Owner, Record<string, unknown>> = { emitter: {}, tracker: {}, module: {} };
  for (const [key, value] of Object.entries(options)) {
    const owner = (OPTION_OWNERS as Record<string, Owner | undefined>)[key];
    if (owner === undefined && key === 'name') {
      throw new InvalidOptionError(
        'name',
        'names the instance and must be known before its options: give it to forRootAsync({ name, useFactory }), ' +
          'beside the factory, not in the options the factory returns',
      );
    }
    if (owner === undefined) throw new InvalidOptionError(key, 'is not a SnowplowModule option');
    parts[owner][key] = value;
  }
  const { metrics, http, httpService, enrich, subject } = options;
  if (metrics !== undefined && metrics !== false && (metrics === null || typeof metrics !== 'object')) {
    throw new InvalidOptionError('metrics', 'must be an object ({ prefix?, labels? }) or false');
  }
  if (metrics && 'tracker' in metrics) {
    throw new InvalidOptionError(
      'metrics.tracker',
      "is the instance's name: set `name` of forRoot / forRootAsync instead",
    );
  }
  if (http !== undefined && (http === null || typeof http !== 'object')) {
    throw new InvalidOptionError('http', 'must be an object of axios settings');
  }
  if (httpService !== undefined && (httpService === null || typeof httpService.axiosRef?.request !== 'function')) {
    throw new InvalidOptionError('httpService', 'must be an HttpService of @nestjs/axios');
  }
  checkMethods('enrich', enrich, []);
  checkMethods('subject', subject, []);
  if (options.requestEntity !== undefined && typeof options.requestEntity !== 'boolean') {
    throw new InvalidOptionError('requestEntity', `must be true or false, got ${describeType(options.requestEntity)}`);
  }
  return {
    emitter: parts.emitter as ModuleParts['emitter'],
    tracker: parts.tracker as ModuleParts['tracker'],
    // Longer than a timer can wait is waited for as long as a timer can (drain() clamps it).
    shutdownTimeoutMs: checkInteger(
      'shutdownTimeoutMs',
      options.shutdownTimeoutMs,
      { min: 0, unit: 'ms' },
      DEFAULT_SHUTDOWN_TIMEOUT_MS,
    ),
    metrics: metrics ?? {},
    http: http ?? {},
    httpService,
    correlationIdHeaders: checkHeaderNames(options.correlationIdHeaders),
    correlationIdMaxLength: checkInteger(
      'correlationIdMaxLength',
      options.correlationIdMaxLength,
      { min: 1 },
      DEFAULT_CORRELATION_ID_MAX_LENGTH,
    ),
    enrich,
    subject,
    requestEntity: options.requestEntity ?? false,
  };
}

/** HTTP header names (tokens), lower-cased; the default list when unset. */
function checkHeaderNames(value: unknown): readonly string[] {
  if (value === undefined) return DEFAULT_CORRELATION_ID_HEADERS;
  if (!Array.isArray(value)) {
    throw new InvalidOptionError(
      'correlationIdHeaders',
      `must be an array of header names, got ${describeType(value)}`,
    );
  }
  return value.map((name: unknown, index) => {
    if (typeof name !== 'string' || !/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name)) {
      const got = typeof name === 'string' ? JSON.stringify(name) : describeType(name);
      throw new InvalidOptionError(`correlationIdHeaders[${index}]`, `must be a header name, got ${got}`);
    }
    return name.toLowerCase();
  });
}
