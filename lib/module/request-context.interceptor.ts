import { CallHandler, ExecutionContext, Injectable, Logger, NestInterceptor } from '@nestjs/common';
import { Observable } from 'rxjs';
import type { EmitterMetrics } from '../metrics';
import { CorrelationIdLimit, graphqlRequest, readCorrelationId } from './correlation-id';
import type { RequestContextStore, SnowplowRequestContext } from './request-context';
import type { ModuleParts } from './snowplow-module-options';
import type { SnowplowInstance } from './snowplow-instance';

/** The module options that read the request context: any of them makes the module open one per handler call. */
export type RequestContextOptions = Pick<
  ModuleParts,
  'correlationIdHeaders' | 'correlationIdMaxLength' | 'enrich' | 'subject' | 'requestEntity'
>;

/**
 * Whether an option reads the request context: correlation headers to read, `enrich`, `subject`
 * or `requestEntity` (its type, and the trace ids read inside it). Without one, the module
 * registers no request-context interceptor at all: no handler call pays for it, tracked or not.
 */
export function needsRequestContext(parts: RequestContextOptions): boolean {
  return (
    parts.correlationIdHeaders.length > 0 ||
    parts.enrich !== undefined ||
    parts.subject !== undefined ||
    parts.requestEntity
  );
}

/**
 * Opens a request context for every handler call of the app (`SnowplowModule` registers it as an
 * `APP_INTERCEPTOR`): HTTP on Express and Fastify, microservice handlers, GraphQL resolvers and
 * WebSocket gateways. The handler's observable is subscribed inside `AsyncLocalStorage.run`, so
 * the handler, the pipes, the interceptors bound after this one and everything they call, across
 * `await` and through the handler's observable, see the context. Middleware, guards and exception
 * filters run outside it (Nest runs them before or after interceptors).
 *
 * Per call it reads the configured headers and allocates one small object and one Observable;
 * and, on Node.js 20, the first context turns on the async hooks `AsyncLocalStorage` runs on,
 * which every promise of the process then pays for. With `correlationIdHeaders: []`, no `enrich`,
 * no `subject` and no `requestEntity` (see {@link needsRequestContext}) the module does not
 * register it: no route pays for it, not even for a pass-through interceptor.
 *
 * A correlation id longer than `correlationIdMaxLength` is dropped (the request has none): the
 * first is logged, every one counted in `snowplow_correlation_ids_rejected_total{reason="too_long"}`.
 */
@Injectable()
export class RequestContextInterceptor implements NestInterceptor {
  private readonly headers: readonly string[];
  /** Without an option that reads it, a context would serve nothing: calls pass straight through. */
  private readonly enabled: boolean;
  private readonly limit: CorrelationIdLimit;
  private readonly logger: Logger;
  private readonly requests: RequestContextStore;
  /** Whether a too-long id was logged: once per module, the metric counts every one. */
  private tooLongLogged = false;

  constructor(
    parts: RequestContextOptions,
    private readonly metrics: EmitterMetrics | undefined,
    instance: Pick<SnowplowInstance, 'logContext' | 'requests'>,
  ) {
    this.logger = new Logger(instance.logContext);
    this.requests = instance.requests;
    this.headers = parts.correlationIdHeaders;
    this.enabled = needsRequestContext(parts);
    const maxLength = parts.correlationIdMaxLength;
    this.limit = { maxLength, tooLong: (header, length) => this.tooLong(header, length, maxLength) };
  }

  /** Runs the call inside its request context (or passes it through when contexts are off). */
  intercept(executionContext: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (!this.enabled) return next.handle();
    const type = executionContext.getType<string>();
    const args = executionContext.getArgs();
    const context: SnowplowRequestContext = {
      type,
      correlationId: readCorrelationId(executionContext, this.headers, this.limit),
      request: type === 'http' ? args[0] : type === 'graphql' ? graphqlRequest(args[2]) : undefined,
      executionContext,
    };
    // Subscribing inside the store, not only calling handle(): Nest subscribes to the handler's
    // result later, and whatever runs from that subscription (the handler's observable, the tap of
    // @TrackEvent) must still see the context.
    return new Observable((subscriber) => this.requests.run(context, () => next.handle().subscribe(subscriber)));
  }

  /** Counts a dropped id, and logs the first: its length and header, never its value. */
  private tooLong(header: string, length: number, maxLength: number): void {
    try {
      this.metrics?.correlationIdRejected('too_long');
      if (this.tooLongLogged) return;
      this.tooLongLogged = true;
      this.logger.warn(
        `a correlation id of ${length} characters in "${header}" is longer than correlationIdMaxLength ` +
          `(${maxLength}): dropped, not cut, so the request carries none (its billing events are still sent). ` +
          'Logged once; every drop is counted in the correlation_ids_rejected_total{reason="too_long"} metric',
      );
    } catch {
      // Reporting must never fail the request.
    }
  }
}
