import { CallHandler, ExecutionContext, Injectable, NestInterceptor } from '@nestjs/common';
import { Observable, tap } from 'rxjs';
import { getTrackEventMetadata, TrackEventContext, TrackEventMetadata } from './track-event.metadata';
import { InvalidEventError } from '../errors';
import { TrackerService } from '../module/tracker.service';
import { describeType, isPlainObject } from '../utils';

type Outcome = { outcome: 'success'; result: unknown } | { outcome: 'error'; error: unknown };

/**
 * Nest runs every interceptor bound to a call (class level, method level, global) with the same
 * ExecutionContext. The first TrackEventInterceptor to see a context handles it and the others
 * pass it through, so a handler decorated on its method and on its class sends one event.
 */
const handledCalls = new WeakSet<ExecutionContext>();

/**
 * Sends the `@TrackEvent` event of a handler call. Bound by `@TrackEvent` itself; a handler without
 * `@TrackEvent` metadata passes through untouched. Tracking never changes what the handler
 * returns or throws: any failure goes to `TrackerService.recordTrackError(err, 'interceptor')`.
 */
@Injectable()
export class TrackEventInterceptor implements NestInterceptor {
  constructor(private readonly tracker: TrackerService) {}

  /** Tracks the handler call's event once it emitted, completed or failed; passes the call through unchanged. */
  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const metadata = getTrackEventMetadata(context.getHandler(), context.getClass());
    if (!metadata || handledCalls.has(context)) return next.handle();
    handledCalls.add(context);

    // Only a props function sees the context and the duration: without one, neither is built.
    const dynamic = typeof metadata.props === 'function';
    const startedAt = dynamic ? performance.now() : 0;
    let settled = false;
    const settle = (outcome: Outcome): void => {
      if (settled) return;
      settled = true;
      if (metadata.on !== 'always' && metadata.on !== outcome.outcome) return;
      this.track(metadata, dynamic ? () => this.context(context, performance.now() - startedAt, outcome) : undefined);
    };
    return next.handle().pipe(
      tap({
        next: (result) => settle({ outcome: 'success', result }),
        complete: () => settle({ outcome: 'success', result: undefined }),
        // tap rethrows the handler's error object unchanged after this callback.
        error: (error: unknown) => settle({ outcome: 'error', error }),
      }),
    );
  }

  private context(context: ExecutionContext, durationMs: number, outcome: Outcome): TrackEventContext {
    return {
      args: context.getArgs(),
      request: context.getType() === 'http' ? context.switchToHttp().getRequest() : undefined,
      executionContext: context,
      durationMs,
      ...outcome,
    } as TrackEventContext;
  }

  private track(metadata: TrackEventMetadata, context: (() => TrackEventContext) | undefined): void {
    try {
      this.tracker.trackEvent(
        metadata.name,
        context ? resolveProps(metadata, context()) : (metadata.props as Record<string, unknown> | undefined),
      );
    } catch (err) {
      this.report(err);
    }
  }

  private report(err: unknown): void {
    try {
      this.tracker.recordTrackError(err, 'interceptor');
    } catch {
      // recordTrackError is documented never to throw; should it, the response still must not fail.
    }
  }
}

function resolveProps(metadata: TrackEventMetadata, ctx: TrackEventContext): Record<string, unknown> | undefined {
  if (typeof metadata.props !== 'function') return metadata.props;
  const props: unknown = metadata.props(ctx);
  if (props === undefined || isPlainObject(props)) return props;
  throw new InvalidEventError(
    'props',
    `the props function of @TrackEvent('${metadata.name}') on ${metadata.where} returned ${describeType(props)}; ` +
      'it must return a plain object or undefined',
  );
}
