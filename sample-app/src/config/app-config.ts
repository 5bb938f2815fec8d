import { BILLING_REALMS, BillingRealm } from 'nestjs-snowplow';

/** The tracker endpoint path of every Snowplow collector. */
export const TP2_ENDPOINT_PATH = '/com.snowplowanalytics.snowplow/tp2';

export interface SnowplowConfig {
  /** The collector's tp2 endpoint; undefined means "start the embedded local collector". */
  collectorUrl: string | undefined;
  appId: string;
  namespace: string | undefined;
  shutdownTimeoutMs: number | undefined;
}

export interface EmbeddedCollectorConfig {
  port: number;
  host: string;
}

export interface BillingConfig {
  realm: BillingRealm;
  instanceId: string | undefined;
}

/** Variables the sample app reads; every one is optional. */
export type Environment = Readonly<Record<string, string | undefined>>;

/** A variable that is set but not usable; the app refuses to start and says which one. */
export class ConfigError extends Error {
  constructor(variable: string, reason: string) {
    super(`${variable} ${reason}`);
    this.name = 'ConfigError';
  }
}

/**
 * The sample app's configuration, read once from environment variables at startup and provided
 * by `ConfigModule` (inject it by its class). See sample-app/README.md for the variables.
 */
export class AppConfig {
  private constructor(
    /** HTTP port of the app (`PORT`, default 3000; 0 picks a free port). */
    readonly port: number,
    readonly snowplow: SnowplowConfig,
    /** Where the embedded collector listens when SNOWPLOW_COLLECTOR_URL is not set. */
    readonly embeddedCollector: EmbeddedCollectorConfig,
    readonly billing: BillingConfig,
  ) {}

  /** Reads and checks the variables; throws a `ConfigError` naming the first wrong one. */
  static fromEnv(env: Environment): AppConfig {
    return new AppConfig(
      port(env, 'PORT', 3000),
      {
        collectorUrl: collectorUrl(env),
        appId: text(env, 'SNOWPLOW_APP_ID') ?? 'nestjs-snowplow-sample',
        namespace: text(env, 'SNOWPLOW_NAMESPACE'),
        shutdownTimeoutMs: integer(env, 'SNOWPLOW_SHUTDOWN_TIMEOUT_MS', 0),
      },
      {
        port: port(env, 'COLLECTOR_PORT', 9090),
        host: text(env, 'COLLECTOR_HOST') ?? '127.0.0.1',
      },
      {
        realm: realm(env),
        instanceId: text(env, 'BILLING_INSTANCE_ID'),
      },
    );
  }

  /** A copy sending events to `url` (the embedded collector's endpoint). */
  withCollectorUrl(url: string): AppConfig {
    return new AppConfig(this.port, { ...this.snowplow, collectorUrl: url }, this.embeddedCollector, this.billing);
  }
}

/** The trimmed value, or undefined when unset or blank. */
function text(env: Environment, name: string): string | undefined {
  const value = env[name]?.trim();
  return value ? value : undefined;
}

function integer(env: Environment, name: string, min: number): number | undefined {
  const value = text(env, name);
  if (value === undefined) return undefined;
  if (!/^[0-9]+$/.test(value) || !Number.isSafeInteger(Number(value)) || Number(value) < min) {
    throw new ConfigError(name, `must be an integer >= ${min}, got "${value}"`);
  }
  return Number(value);
}

function port(env: Environment, name: string, fallback: number): number {
  const value = integer(env, name, 0) ?? fallback;
  if (value > 65535) throw new ConfigError(name, `must be a port number (0-65535), got ${value}`);
  return value;
}

/**
 * SNOWPLOW_COLLECTOR_URL as the tracker endpoint. A bare origin such as `http://localhost:9090`
 * gets the standard tp2 path; any other path is used as given.
 */
function collectorUrl(env: Environment): string | undefined {
  const value = text(env, 'SNOWPLOW_COLLECTOR_URL');
  if (value === undefined) return undefined;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ConfigError(
      'SNOWPLOW_COLLECTOR_URL',
      `must be an absolute http(s) URL, e.g. http://localhost:9090${TP2_ENDPOINT_PATH}`,
    );
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ConfigError('SNOWPLOW_COLLECTOR_URL', `must use http or https, got ${url.protocol.replace(/:$/, '')}`);
  }
  if (url.pathname === '/' && !url.search) url.pathname = TP2_ENDPOINT_PATH;
  return url.href;
}

function realm(env: Environment): BillingRealm {
  const value = text(env, 'BILLING_REALM') ?? 'SM';
  if (!(BILLING_REALMS as readonly string[]).includes(value)) {
    throw new ConfigError('BILLING_REALM', `must be one of ${BILLING_REALMS.join(', ')}, got "${value}"`);
  }
  return value as BillingRealm;
}
