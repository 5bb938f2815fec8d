import { EMITTER_OPTION_NAMES, EmitterOptions } from '../emitter/emitter-options';
import { InvalidOptionError } from '../errors';
import { MetricsOptions } from '../metrics';
import { MAX_TIMER_MS } from '../utils/timers';

/** Options of `SnowplowModule.forRoot()` / `forRootAsync()`. */
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
}

export const DEFAULT_SHUTDOWN_TIMEOUT_MS = 10_000;

/** Options the emitter does not take: a Record, so the compiler keeps the list complete. */
const MODULE_ONLY_OPTIONS: Record<Exclude<keyof SnowplowModuleOptions, keyof EmitterOptions>, true> = {
  appId: true,
  namespace: true,
  userAgent: true,
  shutdownTimeoutMs: true,
  metrics: true,
};
/** The module supplies these itself (Nest's HttpService, Logger and the metrics). */
const SUPPLIED_BY_MODULE: ReadonlySet<string> = new Set<keyof EmitterOptions>(['httpClient', 'logger', 'observer']);

const KNOWN_OPTIONS: ReadonlySet<string> = new Set([
  ...EMITTER_OPTION_NAMES.filter((name) => !SUPPLIED_BY_MODULE.has(name)),
  ...Object.keys(MODULE_ONLY_OPTIONS),
]);

/** Checks what only the module knows about; the Emitter and Tracker check the rest. */
export function checkModuleOptions(options: SnowplowModuleOptions): { shutdownTimeoutMs: number } {
  if (options === null || typeof options !== 'object') {
    throw new InvalidOptionError('options', 'SnowplowModule needs an options object with collectorUrl and appId');
  }
  for (const key of Object.keys(options)) {
    if (!KNOWN_OPTIONS.has(key)) throw new InvalidOptionError(key, 'is not a SnowplowModule option');
  }
  const { shutdownTimeoutMs = DEFAULT_SHUTDOWN_TIMEOUT_MS, metrics, appId } = options;
  if (typeof appId !== 'string' || appId.trim() === '')
    throw new InvalidOptionError('appId', 'must be a non-empty string');
  if (
    typeof shutdownTimeoutMs !== 'number' ||
    !Number.isSafeInteger(shutdownTimeoutMs) ||
    shutdownTimeoutMs < 0 ||
    shutdownTimeoutMs > MAX_TIMER_MS
  ) {
    throw new InvalidOptionError('shutdownTimeoutMs', 'must be an integer >= 0 (ms)');
  }
  if (metrics !== undefined && metrics !== false && (metrics === null || typeof metrics !== 'object')) {
    throw new InvalidOptionError('metrics', 'must be an object ({ prefix?, labels? }) or false');
  }
  return { shutdownTimeoutMs };
}
