import { Logger } from '@nestjs/common';
import { describeEntityFailure, EntityGenerator, GlobalEntityFailure } from '../tracker/global-entities';
import { SCHEMAS } from '../tracker/schemas';
import { loadOptional } from '../utils/optional-dependency';
import type { RequestContextStore } from './request-context';
import type { TrackErrorSink } from './track-error-sink';

/** The schema of the built-in `request` entity (shipped in the package's `iglu/` folder). */
export const REQUEST_ENTITY_SCHEMA = SCHEMAS.request;

/** The longest correlation id the request entity carries (its schema's `maxLength`). */
export const REQUEST_ENTITY_MAX_CORRELATION_ID = 1024;

/** What the request entity reads of `@opentelemetry/api`. */
interface SpanContextLike {
  traceId: string;
  spanId: string;
}
interface TraceApi {
  trace: {
    getActiveSpan(): { spanContext(): SpanContextLike } | undefined;
    isSpanContextValid(context: SpanContextLike): boolean;
  };
}

/** `@opentelemetry/api` when it is installed and loads, else `undefined` (no trace ids then). */
function traceApi(load: (id: string) => unknown): TraceApi | undefined {
  try {
    const api = loadOptional<TraceApi>(
      {
        name: '@opentelemetry/api',
        feature: 'The trace and span ids of the request entity',
        install: 'npm install @opentelemetry/api',
      },
      load,
    );
    return typeof api?.trace?.getActiveSpan === 'function' ? api : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The generator of the module's `requestEntity` option: inside a request, a
 * `dev.nestjs-snowplow/request` entity with Nest's context type, the request's correlation id
 * (left out past 1,024 characters) and, when `@opentelemetry/api` is installed and a span is
 * active, its trace and span ids; outside a request, none. `load` is `require` (replaceable for tests).
 */
export function requestEntity(
  requests: Pick<RequestContextStore, 'current'>,
  load: (id: string) => unknown = require,
): EntityGenerator {
  const otel = traceApi(load);
  return () => {
    const context = requests.current();
    if (context === undefined) return undefined;
    const data: Record<string, string> = { type: context.type };
    const id = context.correlationId;
    if (id !== undefined && id !== '' && id.length <= REQUEST_ENTITY_MAX_CORRELATION_ID) data.correlationId = id;
    const span = otel?.trace.getActiveSpan()?.spanContext();
    if (span !== undefined && otel?.trace.isSpanContextValid(span)) {
      data.traceId = span.traceId;
      data.spanId = span.spanId;
    }
    return { schema: REQUEST_ENTITY_SCHEMA, data };
  };
}

const LOG_INTERVAL_MS = 10_000;

/**
 * The tracker's `onEntityError` in the module: each global entity left out of an event is counted
 * in `snowplow_track_errors_total{source="entities"}` (with the event's lane as `kind`) and
 * warned about at most once per 10 s. Never throws.
 */
export function entityErrorReporter(
  trackErrors: TrackErrorSink,
  logContext: string,
): (failure: GlobalEntityFailure) => void {
  const logger = new Logger(logContext);
  let lastAt = -Infinity;
  let suppressed = 0;
  return (failure) => {
    try {
      trackErrors.trackError('entities', failure.lane);
      const now = Date.now();
      if (now - lastAt < LOG_INTERVAL_MS) {
        suppressed++;
        return;
      }
      const more = suppressed ? ` (${suppressed} more since the last report)` : '';
      lastAt = now;
      suppressed = 0;
      logger.warn(
        `${describeEntityFailure(failure)}; the event was sent without it${more}. ` +
          'Every failure is counted in track_errors_total{source="entities"}',
      );
    } catch {
      // Reporting must never fail a track call.
    }
  };
}
