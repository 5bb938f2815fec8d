import { AsyncLocalStorage } from 'node:async_hooks';
import type { ExecutionContext } from '@nestjs/common';

/**
 * The request a handler call serves, as the module sees it: carried across `await` (and the
 * handler's observable) with `AsyncLocalStorage`, from the module's interceptor to everything the
 * handler calls. `enrich` receives it; `TrackerService.correlationId()` reads its id.
 */
export interface SnowplowRequestContext {
  /** Nest's context type of the handler: `'http'`, `'rpc'`, `'graphql'` or `'ws'`. */
  readonly type: string;
  /**
   * The request's correlation id: the first of the module's `correlationIdHeaders` present in
   * the HTTP request (for GraphQL, the HTTP request that carries the operation) or in the
   * microservice message's headers or metadata. `undefined` when none is present: no id is made up.
   */
  readonly correlationId: string | undefined;
  /** The HTTP request (Express or Fastify): for HTTP handlers and GraphQL resolvers; else `undefined`. */
  readonly request: any;
  /** Nest's execution context of the handler call. */
  readonly executionContext: ExecutionContext;
}

/**
 * The request contexts of one module instance, carried with `AsyncLocalStorage`. Each instance has
 * its own store, filled by its own request-context interceptor from its own options
 * (`correlationIdHeaders`, `correlationIdMaxLength`): two instances in one app never read each
 * other's context, and an instance that needs none opens none.
 */
export class RequestContextStore {
  private readonly storage = new AsyncLocalStorage<SnowplowRequestContext>();

  /** The context of the request this code runs for, or `undefined` outside one. */
  current(): SnowplowRequestContext | undefined {
    return this.storage.getStore();
  }

  /** Runs `fn` with `context` as the current request context. */
  run<T>(context: SnowplowRequestContext, fn: () => T): T {
    return this.storage.run(context, fn);
  }
}
