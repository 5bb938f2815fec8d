import { CallHandler, ExecutionContext, Inject, Injectable, NestInterceptor } from '@nestjs/common';
import { Observable } from 'rxjs';
import { graphqlRequest, readCorrelationId } from './correlation-id';
import { runInRequestContext, SnowplowRequestContext } from './request-context';
import type { ModuleParts } from './snowplow-module-options';
import { SNOWPLOW_MODULE_PARTS } from './snowplow.tokens';

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
 * which every promise of the process then pays for. With `correlationIdHeaders: []` and no
 * `enrich`, it passes every call straight through and never opens a context.
 */
@Injectable()
export class RequestContextInterceptor implements NestInterceptor {
  private readonly headers: readonly string[];
  /** Without headers to read and without `enrich`, a context would serve nothing: calls pass straight through. */
  private readonly enabled: boolean;

  constructor(@Inject(SNOWPLOW_MODULE_PARTS) parts: Pick<ModuleParts, 'correlationIdHeaders' | 'enrich'>) {
    this.headers = parts.correlationIdHeaders;
    this.enabled = this.headers.length > 0 || parts.enrich !== undefined;
  }

  /** Runs the call inside its request context (or passes it through when contexts are off). */
  intercept(executionContext: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (!this.enabled) return next.handle();
    const type = executionContext.getType<string>();
    const args = executionContext.getArgs();
    const context: SnowplowRequestContext = {
      type,
      correlationId: readCorrelationId(executionContext, this.headers),
      request: type === 'http' ? args[0] : type === 'graphql' ? graphqlRequest(args[2]) : undefined,
      executionContext,
    };
    // Subscribing inside the store, not only calling handle(): Nest subscribes to the handler's
    // result later, and whatever runs from that subscription (the handler's observable, the tap of
    // @TrackEvent) must still see the context.
    return new Observable((subscriber) => runInRequestContext(context, () => next.handle().subscribe(subscriber)));
  }
}
