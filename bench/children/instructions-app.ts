/**
 * `npm run bench:instructions`, per request: a Nest (Express) app with four routes returning the
 * same small JSON, sending to the bench collector:
 *   /plain    no interceptor of its own
 *   /noop     a pass-through interceptor (what any interceptor costs in Nest)
 *   /skipped  `@TrackEvent(name, { on: 'error', props })` on a handler that succeeds: the
 *             interceptor does all its work for the call (plan, outcome filter) but sends no event
 *   /tracked  `@TrackEvent(name, { props })`: one event per request, delivered
 * With `context: true` the module has its default options (correlation headers read, so its
 * request-context interceptor opens a context for every handler call); with `context: false`,
 * `correlationIdHeaders: []` and nothing else that needs a context, so it opens none. The app runs
 * under callgrind; the load comes from the orchestrator (another process), one request at a time
 * on one keep-alive connection, in groups of `batch` requests.
 *
 * The emitter sends exactly one batch per group (`batchSize` = `maxBatchSize` = batch, and a
 * `lingerMs` longer than any group takes, so a batch leaves when it is full, as under load): the
 * count does not depend on how fast valgrind runs. Sends `{ type: 'listening', port }`; answers
 * `settle` (drain: during the warm-up, after each request, so that each event leaves alone) and
 * `gc` (not used by the figure: a forced GC between intervals throws optimised code away, see
 * bench/README.md); on `stop` closes the app and reports its emitter's counters.
 */
import 'reflect-metadata';
import {
  CallHandler,
  Controller,
  ExecutionContext,
  Get,
  Injectable,
  Module,
  NestInterceptor,
  UseInterceptors,
} from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { Observable } from 'rxjs';
import { EmitterService, SnowplowModule, TrackEvent } from 'nestjs-snowplow';
import { collectGarbage, params, receive, report } from '../support/child';
import { REQUEST_TIMEOUT_MS } from '../support/instruction-subjects';
import { APP_ID, EVENT_NAME, EVENT_PROPS } from '../support/subjects';

interface Params {
  collectorPort: number;
  batch: number;
  /** Whether the module opens a request context per handler call (default options) or none. */
  context: boolean;
}

/** The longest `lingerMs` allowed: longer than a group of requests takes under valgrind. */
const LINGER_MS = 60_000;

@Injectable()
class PassThroughInterceptor implements NestInterceptor {
  intercept(_context: ExecutionContext, next: CallHandler): Observable<unknown> {
    return next.handle();
  }
}

@Controller()
class BenchController {
  @Get('plain')
  plain(): { ok: boolean } {
    return { ok: true };
  }

  @Get('noop')
  @UseInterceptors(PassThroughInterceptor)
  noop(): { ok: boolean } {
    return { ok: true };
  }

  @Get('skipped')
  @TrackEvent(EVENT_NAME, { on: 'error', props: { ...EVENT_PROPS } })
  skipped(): { ok: boolean } {
    return { ok: true };
  }

  @Get('tracked')
  @TrackEvent(EVENT_NAME, { props: { ...EVENT_PROPS } })
  tracked(): { ok: boolean } {
    return { ok: true };
  }
}

async function run(): Promise<void> {
  const p = params<Params>();

  @Module({
    imports: [
      SnowplowModule.forRoot({
        appId: APP_ID,
        collectorUrl: `http://127.0.0.1:${p.collectorPort}/com.snowplowanalytics.snowplow/tp2`,
        batchSize: p.batch,
        maxBatchSize: p.batch,
        lingerMs: LINGER_MS,
        requestTimeoutMs: REQUEST_TIMEOUT_MS,
        ...(p.context ? {} : { correlationIdHeaders: [] }),
      }),
    ],
    controllers: [BenchController],
    providers: [PassThroughInterceptor],
  })
  class AppModule {}

  const app = await NestFactory.create(AppModule, { logger: ['error', 'warn'] });
  // The load generator's one connection stays open however slow valgrind is (default 5 s idle):
  // a new connection now and then would be counted as part of some requests.
  const server = app.getHttpServer() as { keepAliveTimeout: number; headersTimeout: number };
  server.keepAliveTimeout = 600_000;
  server.headersTimeout = 610_000;
  await app.listen(0, '127.0.0.1');
  const { port } = app.getHttpServer().address() as { port: number };
  const emitter = app.get(EmitterService);
  // Between measured intervals (bench/instructions.ts): `settle` waits until nothing is queued or
  // in flight; `gc` collects the heap. The orchestrator has callgrind dump the count after each.
  process.on('message', (message: { type?: string }) => {
    if (message?.type === 'settle') {
      void emitter.drain(REQUEST_TIMEOUT_MS).then((r) => report({ type: 'settled', drained: r.drained }));
    } else if (message?.type === 'gc') {
      collectGarbage();
      void report({ type: 'collected' });
    }
  });
  const stop = receive('stop');
  await report({ type: 'listening', port });

  await stop;
  const stats = emitter.stats();
  await app.close();
  await report({ type: 'result', enqueued: stats.enqueued, sent: stats.sent, dropped: stats.dropped });
  process.exit(0);
}

run().catch((err: unknown) => {
  console.error(err instanceof Error ? err.stack : err);
  process.exit(1);
});
