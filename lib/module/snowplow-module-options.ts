import type { HttpService } from '@nestjs/axios';
import type { AxiosRequestConfig } from 'axios';
import { EmitterOptions } from '../emitter/emitter-options';
import { InvalidOptionError } from '../errors';
import { MetricsOptions } from '../metrics';
import { TrackerOptions } from '../tracker/tracker';
import { checkInteger } from '../validation';

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
  /** Prometheus metrics: `{ prefix?, labels?, registry? }`, or `false` for none. Default on. */
  metrics?: MetricsOptions | false;
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
  backoff: 'emitter',
  retryStatusCodes: 'emitter',
  dontRetryStatusCodes: 'emitter',
  maxRetryAfterMs: 'emitter',
  maxAttempts: 'emitter',
  maxEventAgeMs: 'emitter',
  appId: 'tracker',
  namespace: 'tracker',
  userAgent: 'tracker',
  shutdownTimeoutMs: 'module',
  metrics: 'module',
  http: 'module',
  httpService: 'module',
};

/** The module's options, checked and split by the part that takes them. */
export interface ModuleParts {
  emitter: Omit<EmitterOptions, 'httpClient' | 'logger' | 'observer'>;
  tracker: Omit<TrackerOptions, 'emitter'>;
  shutdownTimeoutMs: number;
  metrics: MetricsOptions | false;
  http: AxiosRequestConfig;
  httpService?: HttpService;
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
    if (owner === undefined) throw new InvalidOptionError(key, 'is not a SnowplowModule option');
    parts[owner][key] = value;
  }
  const { metrics, http, httpService } = options;
  if (metrics !== undefined && metrics !== false && (metrics === null || typeof metrics !== 'object')) {
    throw new InvalidOptionError('metrics', 'must be an object ({ prefix?, labels? }) or false');
  }
  if (http !== undefined && (http === null || typeof http !== 'object')) {
    throw new InvalidOptionError('http', 'must be an object of axios settings');
  }
  if (httpService !== undefined && (httpService === null || typeof httpService.axiosRef?.request !== 'function')) {
    throw new InvalidOptionError('httpService', 'must be an HttpService of @nestjs/axios');
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
  };
}
