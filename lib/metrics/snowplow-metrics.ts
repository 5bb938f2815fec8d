import type { Counter, Gauge, Histogram, Registry } from 'prom-client';
import {
  CORRELATION_ID_REJECT_REASONS,
  CorrelationIdRejectReason,
  DROP_REASONS,
  DropReason,
  EmitterObserver,
  EVENT_KINDS,
  zeroDrops,
} from '../emitter/send-result';
import { STORAGE_OPS, StorageOp } from '../storage/event-storage.interface';
import type { EventKind } from '../tracker/payload';
import { InvalidOptionError } from '../errors';
import { DEFAULT_METRICS_PREFIX, metricNames } from './metric-names';
import { loadPromClient } from './prom-client-loader';

/** The `metrics` option of `SnowplowModule`, or of `new EmitterMetrics(...)`. */
export interface MetricsOptions {
  /** Prepended to every metric name. Default `snowplow_`. */
  prefix?: string;
  /** Constant labels added to every series, e.g. `{ service: 'billing-api' }`. */
  labels?: Record<string, string>;
  /** Registry to register on. Default: prom-client's global registry (what `@willsoto/nestjs-prometheus` serves). */
  registry?: Registry;
  /**
   * The `tracker` label of every series, which tells instances apart on one registry. Default
   * `default`. `SnowplowModule` sets it to the instance's `name`.
   */
  tracker?: string;
}

/** What the metrics read from the emitter they describe. */
export interface QueueSource {
  /** Events waiting, both lanes. */
  readonly queueDepth: number;
  /** Capacity of the custom lane. */
  readonly capacity: number;
  /** False while the event store cannot be reached (a database outage); unset means reachable. */
  readonly storeReachable?: boolean;
}

type Labels = Record<string, string>;
const SOURCES = Symbol.for('nestjs-snowplow.metric-sources');
type Tagged = { [SOURCES]?: Set<EmitterMetrics> };
const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/**
 * The prom-client metrics of one prefix on one registry. Get-or-create: every emitter that uses
 * them (two apps in one process, a module imported twice) finds the metrics already registered
 * and joins their set of sources, so no metric is ever registered twice.
 */
class MetricSet {
  /** Shared through the metric objects, so even a second copy of this library feeds the same series. */
  readonly sources: Set<EmitterMetrics>;
  readonly enqueued: Counter;
  readonly sent: Counter;
  readonly dropped: Counter;
  readonly trackErrors: Counter;
  readonly authFailures: Counter;
  readonly deadLetterWriteFailures: Counter;
  readonly correlationIdsRejected: Counter;
  readonly storageErrors: Counter;
  readonly batchDuration: Histogram;

  constructor(registry: Registry, prefix: string, labelNames: string[]) {
    const prom = loadPromClient();
    const names = metricNames(prefix);
    const sources = (registry.getSingleMetric(names.enqueued) as Tagged | undefined)?.[SOURCES] ?? new Set();
    this.sources = sources;
    const flushAll = () => sources.forEach((source) => source.flush());
    const queueGauge = (name: string, help: string, read: (s: EmitterMetrics) => number) =>
      this.getOrCreate(
        registry,
        name,
        labelNames,
        () =>
          new prom.Gauge({
            name,
            help,
            labelNames,
            registers: [registry],
            collect(this: Gauge) {
              this.reset();
              sources.forEach((source) => this.inc(source.labels, read(source)));
            },
          }),
      );
    const counter = (name: string, help: string, extra: string[]) =>
      this.getOrCreate(
        registry,
        name,
        [...labelNames, ...extra],
        () =>
          new prom.Counter({
            name,
            help,
            labelNames: [...labelNames, ...extra],
            registers: [registry],
            collect: flushAll,
          }),
      ) as Counter;

    this.enqueued = counter(names.enqueued, 'Events accepted by the Snowplow emitter', []);
    this.sent = counter(names.sent, 'Events per send outcome (one count per event per attempt)', ['result']);
    this.dropped = counter(names.dropped, 'Events dropped without delivery, by reason and kind (billing or custom)', [
      'reason',
      'kind',
    ]);
    this.trackErrors = counter(
      names.trackErrors,
      'Tracking calls that failed and were swallowed, by source and kind (billing or custom)',
      ['source', 'kind'],
    );
    this.authFailures = counter(names.authFailures, 'Collector requests refused for their credentials (401/403)', []);
    this.deadLetterWriteFailures = counter(
      names.deadLetterWriteFailures,
      'Dead-letter lines that could not be written (a durable outbox keeps their events and retries)',
      [],
    );
    this.correlationIdsRejected = counter(
      names.correlationIdsRejected,
      'Correlation ids not sent (too_long: over correlationIdMaxLength; event_too_large: dropped so a billing event fits maxEventBytes)',
      ['reason'],
    );
    this.storageErrors = counter(
      names.storageErrors,
      'Operations the event store refused (full disk, I/O error, lock not granted in time), by op',
      ['op'],
    );
    this.batchDuration = this.getOrCreate(
      registry,
      names.batchDuration,
      [...labelNames, 'result'],
      () =>
        new prom.Histogram({
          name: names.batchDuration,
          help: 'One batch request to the collector, start to response, in seconds',
          labelNames: [...labelNames, 'result'],
          buckets: DURATION_BUCKETS,
          registers: [registry],
        }),
    ) as Histogram;
    queueGauge(names.queueDepth, 'Events waiting in the Snowplow emitter queue', (s) => s.queue?.queueDepth ?? 0);
    queueGauge(names.queueCapacity, 'Capacity of the Snowplow emitter queue', (s) => s.queue?.capacity ?? 0);
    queueGauge(names.storeUp, 'Whether the event store can be reached (0 during a database outage)', (s) =>
      s.queue?.storeReachable === false ? 0 : 1,
    );
  }

  private getOrCreate<T extends object>(registry: Registry, name: string, labelNames: string[], create: () => T): T {
    const existing = registry.getSingleMetric(name) as (T & Tagged & { labelNames?: string[] }) | undefined;
    if (existing) {
      if (existing[SOURCES] !== this.sources) {
        throw new InvalidOptionError(
          'metrics.prefix',
          `a metric named ${name} is already registered by other code; choose another prefix`,
        );
      }
      const have = [...(existing.labelNames ?? [])].sort().join(',');
      if (have !== [...labelNames].sort().join(',')) {
        throw new InvalidOptionError(
          'metrics.labels',
          `${name} is already registered with labels [${have}]; every Snowplow module sharing a prefix must use the same label names`,
        );
      }
      return existing;
    }
    const metric = create() as T & Tagged;
    metric[SOURCES] = this.sources;
    return metric;
  }
}

const RESERVED_LABELS = ['result', 'reason', 'source', 'kind', 'op', 'tracker'];

function zeroDropsByKind(): Record<EventKind, Record<DropReason, number>> {
  return { billing: zeroDrops(), custom: zeroDrops() };
}

function checkMetricsOptions(options: MetricsOptions): { prefix: string; labels: Labels } {
  if (options === null || typeof options !== 'object')
    throw new InvalidOptionError('metrics', 'must be an object or false');
  const prefix = options.prefix ?? DEFAULT_METRICS_PREFIX;
  if (typeof prefix !== 'string' || !/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(prefix)) {
    throw new InvalidOptionError('metrics.prefix', 'must be a valid Prometheus metric name prefix');
  }
  const labels = options.labels ?? {};
  if (labels === null || typeof labels !== 'object' || Array.isArray(labels)) {
    throw new InvalidOptionError('metrics.labels', 'must be an object of label name to string value');
  }
  for (const [key, value] of Object.entries(labels)) {
    if (!/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(key) || RESERVED_LABELS.includes(key) || typeof value !== 'string') {
      throw new InvalidOptionError(
        'metrics.labels',
        `label ${JSON.stringify(key)} must be a valid, non-reserved name with a string value`,
      );
    }
  }
  const tracker = options.tracker ?? 'default';
  if (typeof tracker !== 'string' || tracker === '') {
    throw new InvalidOptionError('metrics.tracker', 'must be a non-empty string');
  }
  // Every series carries `tracker`: prom-client needs the same label names on every series of a metric.
  return { prefix, labels: { ...labels, tracker } };
}

/**
 * Prometheus metrics of one emitter. Counting on the hot path is a plain integer increment; the
 * totals move into prom-client when the registry is scraped (collect) or the emitter detaches.
 */
export class EmitterMetrics implements EmitterObserver {
  /** The constant labels of every series: `labels` and `tracker`. */
  readonly labels: Readonly<Record<string, string>>;
  /** The registry the metrics are registered on. */
  readonly registry: Registry;
  private readonly set: MetricSet;
  private enqueued = 0;
  private readonly sent = { success: 0, failure: 0 };
  private readonly dropped = zeroDropsByKind();
  private authFailures = 0;
  private deadLetterWriteFailures = 0;
  private readonly correlationIdsRejected: Record<CorrelationIdRejectReason, number> = {
    too_long: 0,
    event_too_large: 0,
  };
  private readonly storageErrors = new Map<StorageOp, number>();
  /** Swallowed tracking failures per source, one count per kind. */
  private readonly trackErrors = new Map<string, Record<EventKind, number>>();
  private detached = false;
  /** The emitter whose queue the gauges report; set by `watch()`. */
  queue?: QueueSource;

  constructor(options: MetricsOptions = {}) {
    const { prefix, labels } = checkMetricsOptions(options);
    this.labels = labels;
    this.registry = options.registry ?? loadPromClient().register;
    this.set = new MetricSet(this.registry, prefix, Object.keys(labels));
    this.set.sources.add(this);
    this.set.enqueued.inc(labels, 0);
    for (const result of ['success', 'failure']) this.set.sent.inc({ ...labels, result }, 0);
    for (const kind of EVENT_KINDS)
      for (const reason of DROP_REASONS) this.set.dropped.inc({ ...labels, reason, kind }, 0);
    this.set.authFailures.inc(labels, 0);
    this.set.deadLetterWriteFailures.inc(labels, 0);
    for (const reason of CORRELATION_ID_REJECT_REASONS) this.set.correlationIdsRejected.inc({ ...labels, reason }, 0);
    for (const op of STORAGE_OPS) this.set.storageErrors.inc({ ...labels, op }, 0);
    // Present from the start, so an alert on billing failures has a series to watch.
    for (const kind of EVENT_KINDS) this.set.trackErrors.inc({ ...labels, source: 'interceptor', kind }, 0);
  }

  /** Reports this queue's depth and capacity in the gauges (pass the emitter this observer is given to). */
  watch(queue: QueueSource): this {
    this.queue = queue;
    return this;
  }

  /** {@inheritDoc EmitterObserver.eventsEnqueued} */
  eventsEnqueued(count: number): void {
    this.enqueued += count;
  }

  /** {@inheritDoc EmitterObserver.requestFinished} */
  requestFinished(result: 'success' | 'failure', durationSeconds: number): void {
    this.set.batchDuration.observe({ ...this.labels, result }, durationSeconds);
  }

  /** {@inheritDoc EmitterObserver.eventsSent} */
  eventsSent(result: 'success' | 'failure', count: number): void {
    this.sent[result] += count;
  }

  /** {@inheritDoc EmitterObserver.eventsDropped} */
  eventsDropped(reason: DropReason, kind: EventKind, count: number): void {
    this.dropped[kind][reason] += count;
  }

  /** {@inheritDoc EmitterObserver.authFailed} */
  authFailed(): void {
    this.authFailures++;
  }

  /** {@inheritDoc EmitterObserver.deadLetterWriteFailed} */
  deadLetterWriteFailed(count: number): void {
    this.deadLetterWriteFailures += count;
    // Also at shutdown, when nothing collects from this emitter any more.
    if (this.detached) this.flush();
  }

  /** {@inheritDoc EmitterObserver.correlationIdRejected} */
  correlationIdRejected(reason: CorrelationIdRejectReason): void {
    this.correlationIdsRejected[reason]++;
    if (this.detached) this.flush();
  }

  /** {@inheritDoc EmitterObserver.storageFailed} */
  storageFailed(op: StorageOp): void {
    this.storageErrors.set(op, (this.storageErrors.get(op) ?? 0) + 1);
    if (this.detached) this.flush();
  }

  /** One tracking failure the Nest layer swallowed, counted in `snowplow_track_errors_total{source,kind}`. */
  trackError(source: string, kind: EventKind): void {
    let counts = this.trackErrors.get(source);
    if (counts === undefined) this.trackErrors.set(source, (counts = { billing: 0, custom: 0 }));
    counts[kind]++;
    // After shutdown nothing collects from this emitter any more (tracking into a stopped
    // emitter is exactly what fails then), so count straight into the registry.
    if (this.detached) this.flush();
  }

  /** Moves the counts gathered since the last flush into the prom-client counters. */
  flush(): void {
    const { set, labels } = this;
    if (this.enqueued) set.enqueued.inc(labels, this.enqueued);
    this.enqueued = 0;
    for (const result of ['success', 'failure'] as const) {
      if (this.sent[result]) set.sent.inc({ ...labels, result }, this.sent[result]);
      this.sent[result] = 0;
    }
    for (const kind of EVENT_KINDS) {
      for (const reason of DROP_REASONS) {
        if (this.dropped[kind][reason]) set.dropped.inc({ ...labels, reason, kind }, this.dropped[kind][reason]);
        this.dropped[kind][reason] = 0;
      }
    }
    if (this.authFailures) set.authFailures.inc(labels, this.authFailures);
    this.authFailures = 0;
    if (this.deadLetterWriteFailures) set.deadLetterWriteFailures.inc(labels, this.deadLetterWriteFailures);
    this.deadLetterWriteFailures = 0;
    for (const reason of CORRELATION_ID_REJECT_REASONS) {
      const count = this.correlationIdsRejected[reason];
      if (count) set.correlationIdsRejected.inc({ ...labels, reason }, count);
      this.correlationIdsRejected[reason] = 0;
    }
    for (const [op, count] of this.storageErrors) set.storageErrors.inc({ ...labels, op }, count);
    this.storageErrors.clear();
    for (const [source, counts] of this.trackErrors) {
      for (const kind of EVENT_KINDS) if (counts[kind]) set.trackErrors.inc({ ...labels, source, kind }, counts[kind]);
    }
    this.trackErrors.clear();
  }

  /** Flushes and stops reporting this emitter's queue (after shutdown). */
  detach(): void {
    this.detached = true;
    this.flush();
    this.set.sources.delete(this);
  }
}
