import { Injectable } from '@nestjs/common';
import type { Registry } from 'prom-client';
import { DrainResult, EmitterStats } from '../emitter/send-result';
import { SnowplowEmitter } from '../emitter/snowplow-emitter';
import type { EmitterMetrics } from '../metrics';

/**
 * The module's emitter, for diagnostics and control: queue depth, stats, flush and drain. It
 * starts and drains with the app on its own (see the README's Delivery section).
 *
 * @example
 * ```ts
 * const { queued, dropped } = app.get(EmitterService).stats();
 * await app.get(EmitterService).drain(5_000);
 * ```
 */
@Injectable()
export class EmitterService {
  /** Built by `SnowplowModule` for each of its instances: inject it (or `@InjectEmitter(name)`), never construct it. */
  constructor(
    private readonly emitter: SnowplowEmitter,
    private readonly metrics: EmitterMetrics | undefined,
  ) {}

  /** The collector URL with its user part and query values masked. */
  get collectorUrl(): string {
    return this.emitter.collectorUrl;
  }

  /** Events waiting to be sent (not in flight), both lanes. */
  get queueDepth(): number {
    return this.emitter.queueDepth;
  }

  /** Capacity of the custom lane. */
  get capacity(): number {
    return this.emitter.capacity;
  }

  /** True once the app shut down (or the emitter was stopped). */
  get isStopped(): boolean {
    return this.emitter.isStopped;
  }

  /** A snapshot: queued per lane, in flight, sent, dropped by reason and kind, last error. */
  stats(): EmitterStats {
    return this.emitter.stats();
  }

  /** Sends what is queued now, cutting a backoff short (not a Retry-After). Returns at once. */
  flush(): void {
    this.emitter.flush();
  }

  /** Resolves when nothing is queued or in flight, or when `timeoutMs` passes. */
  drain(timeoutMs: number): Promise<DrainResult> {
    return this.emitter.drain(timeoutMs);
  }

  /**
   * Stops the emitter now (the app's shutdown does this after draining): requests in flight are
   * aborted, what is queued is kept in a durable outbox or counted and dead-lettered, and every
   * later track call throws `EmitterStoppedError`.
   */
  stop(): Promise<void> {
    return this.emitter.stop();
  }

  /** The prom-client registry holding this module's metrics (for apps without PrometheusModule). */
  collector(): Registry | undefined {
    return this.metrics?.registry;
  }

  /** What `JSON.stringify`, `String()` and `util.inspect` show: never a credential. */
  toJSON(): unknown {
    return { collectorUrl: this.collectorUrl, stats: this.stats() };
  }
}
