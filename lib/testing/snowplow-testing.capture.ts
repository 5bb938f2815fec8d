import { DrainResult, EmitterStats, zeroDrops } from '../emitter/send-result';
import { SnowplowEmitter } from '../emitter/snowplow-emitter';
import { EmitterStoppedError } from '../errors';
import { TrackErrorSink } from '../module/track-error-sink';
import { EventKind, SCHEMAS, TrackedPayload } from '../tracker';
import { decodeEvent } from './event-decoder';
import type { BadEvent, GoodEvent } from './types';

/** Which captured events to return; every given field must match. */
export interface CapturedEventFilter {
  /** custom_event name, or `se_ac` (the billing eventType) for structured events. */
  name?: string;
  /** Raw event type: `ue` for custom events, `se` for billing events. */
  eventType?: string;
  /** Iglu URI of the innermost self-describing event. */
  schema?: string;
}

function matches(event: GoodEvent, filter: CapturedEventFilter): boolean {
  return (
    (filter.name === undefined || event.name === filter.name) &&
    (filter.eventType === undefined || event.eventType === filter.eventType) &&
    (filter.schema === undefined || event.schema === filter.schema)
  );
}

/**
 * Captures events in memory instead of sending them. It stands where the emitter stands, so the
 * real TrackerService builds every event, and each one is decoded and schema-checked with the
 * library's built-in Iglu schemas, exactly as a collector would see it.
 */
export class SnowplowTestingCapture implements SnowplowEmitter, TrackErrorSink {
  private readonly goodEvents: GoodEvent[] = [];
  private readonly badEvents: BadEvent[] = [];
  private readonly trackErrorSources: string[] = [];
  private readonly trackErrorKinds: EventKind[] = [];
  private stopped = false;

  /**
   * Counts a tracking failure TrackerService swallowed (e.g. a throwing `@TrackEvent` props function,
   * or a `@TrackBillingEvent` input that failed validation: kind `billing`).
   */
  trackError(source: string, kind: EventKind): void {
    this.trackErrorSources.push(source);
    this.trackErrorKinds.push(kind);
  }

  /** Decodes and schema-checks the event and keeps it; throws `EmitterStoppedError` once stopped. */
  enqueue(payload: TrackedPayload): void {
    if (this.stopped) throw new EmitterStoppedError();
    const item = JSON.parse(payload.json) as Record<string, string>;
    const decoded = decodeEvent(item);
    if (decoded.ok) this.goodEvents.push(decoded.event);
    else this.badEvents.push(decoded.event);
  }

  /** Captured, schema-valid events in tracking order, optionally filtered. */
  events(filter: CapturedEventFilter = {}): GoodEvent[] {
    return this.goodEvents.filter((event) => matches(event, filter));
  }

  /**
   * The billable_usage entities of captured billing events, in tracking order, as sent: with the
   * schema's snake_case keys (`event_type`, `unit_of_measure`, `quantity`, ...).
   */
  billingEvents(filter: CapturedEventFilter = {}): Array<Record<string, unknown>> {
    return this.events({ ...filter, eventType: 'se' }).flatMap((event) =>
      event.contexts.filter((c) => c.schema === SCHEMAS.billableUsage).map((c) => c.data as Record<string, unknown>),
    );
  }

  /** Events that failed a schema check (the library never produces them; a failing test shows why). */
  bad(): BadEvent[] {
    return [...this.badEvents];
  }

  /** Sources of tracking failures that were swallowed (for example `interceptor`). */
  get trackErrors(): readonly string[] {
    return this.trackErrorSources;
  }

  /** How many swallowed tracking failures concerned events of `kind` (e.g. billing events never sent). */
  trackErrorCount(kind: EventKind): number {
    return this.trackErrorKinds.filter((k) => k === kind).length;
  }

  /**
   * Throws a descriptive error unless exactly `count` (default: at least one) captured events
   * match `filter` and, when given, contain `props` (a subset match on custom event props).
   */
  expectTracked(filter: CapturedEventFilter, props?: Record<string, unknown>, count?: number): GoodEvent[] {
    const found = this.events(filter).filter((event) => props === undefined || containsSubset(event.props, props));
    const ok = count === undefined ? found.length > 0 : found.length === count;
    if (!ok) {
      const seen = this.goodEvents.map((e) => `${e.name} ${JSON.stringify(e.props ?? e.contexts.map((c) => c.data))}`);
      throw new Error(
        `expected ${count ?? 'at least 1'} event(s) matching ${JSON.stringify({ ...filter, props })}, found ${found.length}. ` +
          `Captured: ${seen.length ? `\n  ${seen.join('\n  ')}` : 'none'}`,
      );
    }
    return found;
  }

  /** Forgets every captured event (call between tests). */
  reset(): void {
    this.goodEvents.length = 0;
    this.badEvents.length = 0;
    this.trackErrorSources.length = 0;
    this.trackErrorKinds.length = 0;
    this.stopped = false;
  }

  // The rest of the emitter contract, so code under test behaves the same: nothing is sent.
  /** No collector: the events stay in memory. */
  readonly collectorUrl = 'memory://snowplow-testing-capture';
  /** Unbounded (the capture keeps every event). */
  readonly capacity = 0;
  /** Nothing to start. */
  start(): void {}
  /** Nothing to send. */
  flush(): void {}
  /** Resolves at once: nothing is ever queued. */
  async drain(): Promise<DrainResult> {
    return { sent: 0, remaining: 0, drained: true };
  }
  /** Refuses further events, as a stopped emitter does. */
  async stop(): Promise<void> {
    this.stopped = true;
  }
  /** True once stopped (until `reset()`). */
  get isStopped(): boolean {
    return this.stopped;
  }
  /** Always 0: events are captured, not queued. */
  get queueDepth(): number {
    return 0;
  }
  /** Counts of what was captured, in the emitter's shape. */
  stats(): EmitterStats {
    const enqueued = this.goodEvents.length + this.badEvents.length;
    return {
      queued: 0,
      storeReachable: true,
      inFlight: 0,
      capacity: 0,
      enqueued,
      sent: 0,
      dropped: zeroDrops(),
      billing: { queued: 0, capacity: 0, dropped: zeroDrops() },
      custom: { queued: 0, capacity: 0, dropped: zeroDrops() },
      consecutiveFailures: 0,
      authFailures: 0,
      stopped: this.stopped,
      storageErrors: 0,
    };
  }
}

function containsSubset(actual: unknown, expected: unknown): boolean {
  if (expected === null || typeof expected !== 'object') return Object.is(actual, expected);
  if (actual === null || typeof actual !== 'object') return false;
  if (Array.isArray(expected)) {
    return (
      Array.isArray(actual) &&
      actual.length === expected.length &&
      expected.every((v, i) => containsSubset(actual[i], v))
    );
  }
  return Object.entries(expected).every(([key, value]) =>
    containsSubset((actual as Record<string, unknown>)[key], value),
  );
}
