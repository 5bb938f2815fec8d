import { Injectable, Optional } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { HealthIndicatorService } from '@nestjs/terminus';
import { InvalidOptionError } from '../errors';
import { EmitterService } from '../module/emitter.service';
import { checkTrackerName } from '../module/snowplow-instance';
import { serviceToken } from '../module/snowplow.providers';
import { DEFAULT_TRACKER_NAME } from '../module/snowplow.tokens';

/** Thresholds of `SnowplowHealthIndicator.isHealthy`. */
export interface SnowplowHealthOptions {
  /** Down when more than this share of the queue's capacity is in use. Default 0.9. */
  maxFillRatio?: number;
  /** Down when this many batch requests in a row failed (no success since). Default 5. */
  maxConsecutiveFailures?: number;
  /**
   * The name of the `SnowplowModule` instance to check (`forRoot({ name })`). Default: the unnamed
   * instance. Give each instance its own key: `isHealthy('snowplow-analytics', { tracker: 'analytics' })`.
   */
  tracker?: string;
}

type Thresholds = Required<Omit<SnowplowHealthOptions, 'tracker'>>;
const DEFAULTS: Thresholds = { maxFillRatio: 0.9, maxConsecutiveFailures: 5 };

function checkOptions(options: SnowplowHealthOptions): Thresholds {
  const { maxFillRatio = DEFAULTS.maxFillRatio, maxConsecutiveFailures = DEFAULTS.maxConsecutiveFailures } = options;
  if (typeof maxFillRatio !== 'number' || !(maxFillRatio > 0 && maxFillRatio <= 1)) {
    throw new InvalidOptionError('maxFillRatio', 'must be a number in (0, 1]');
  }
  if (!Number.isSafeInteger(maxConsecutiveFailures) || maxConsecutiveFailures < 1) {
    throw new InvalidOptionError('maxConsecutiveFailures', 'must be an integer >= 1');
  }
  return { maxFillRatio, maxConsecutiveFailures };
}

/**
 * A `@nestjs/terminus` health indicator for the Snowplow emitter: down when the queue is nearly
 * full, the collector keeps failing, or the durable event store refuses writes (a full disk, an
 * I/O error, a lock not granted in time). Add it to the providers of the module with your health
 * controller (which imports `TerminusModule`), then:
 * `this.health.check([() => this.snowplow.isHealthy('snowplow')])`. With named instances, one key
 * each: `() => this.snowplow.isHealthy('snowplow-analytics', { tracker: 'analytics' })`.
 */
@Injectable()
export class SnowplowHealthIndicator {
  private readonly emitters = new Map<string, EmitterService>();

  constructor(
    private readonly healthIndicatorService: HealthIndicatorService,
    private readonly moduleRef: ModuleRef,
    @Optional() emitter?: EmitterService,
  ) {
    if (emitter !== undefined) this.emitters.set(DEFAULT_TRACKER_NAME, emitter);
  }

  /**
   * The indicator result under `key`: up, or down when a threshold is crossed; details give the queue and drop
   * counts.
   */
  isHealthy<const Key extends string = 'snowplow'>(key: Key = 'snowplow' as Key, options: SnowplowHealthOptions = {}) {
    const { maxFillRatio, maxConsecutiveFailures } = checkOptions(options);
    const stats = this.emitterOf(checkTrackerName('tracker', options.tracker)).stats();
    const fillRatio = stats.capacity > 0 ? stats.queued / stats.capacity : 0;
    const details = {
      queueDepth: stats.queued,
      inFlight: stats.inFlight,
      capacity: stats.capacity,
      fillRatio: Math.round(fillRatio * 1000) / 1000,
      consecutiveFailures: stats.consecutiveFailures,
      lastSuccessAt: stats.lastSuccessAt === undefined ? null : new Date(stats.lastSuccessAt).toISOString(),
      lastError: stats.lastError ?? null,
      dropped: stats.dropped,
      storageErrors: stats.storageErrors,
      storageError: stats.storageError ?? null,
    };
    const indicator = this.healthIndicatorService.check(key);
    if (stats.stopped) return indicator.down({ ...details, reason: 'emitter stopped' });
    if (!stats.storeReachable) {
      const why = stats.storageError ?? 'no answer';
      return indicator.down({ ...details, reason: `the event store cannot be reached: ${why}` });
    }
    if (stats.storageError !== undefined) {
      return indicator.down({ ...details, reason: `the event store refuses writes: ${stats.storageError}` });
    }
    if (fillRatio > maxFillRatio) {
      return indicator.down({
        ...details,
        reason: `queue is ${Math.round(fillRatio * 100)}% full (limit ${Math.round(maxFillRatio * 100)}%)`,
      });
    }
    if (stats.consecutiveFailures >= maxConsecutiveFailures) {
      return indicator.down({ ...details, reason: `the last ${stats.consecutiveFailures} batch requests failed` });
    }
    return indicator.up(details);
  }

  /** The `EmitterService` of the instance `name`, looked up once in the whole app. */
  private emitterOf(name: string): EmitterService {
    let emitter = this.emitters.get(name);
    if (emitter === undefined) {
      try {
        emitter = this.moduleRef.get<EmitterService>(serviceToken('emitter', name), { strict: false });
      } catch {
        const which = name === DEFAULT_TRACKER_NAME ? 'no unnamed SnowplowModule' : `no SnowplowModule named "${name}"`;
        throw new InvalidOptionError('tracker', `the app has ${which} (forRoot({ name }))`);
      }
      this.emitters.set(name, emitter);
    }
    return emitter;
  }
}
