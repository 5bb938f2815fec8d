/**
 * Row 5: a Nest (Express) app with four trivial GET routes that return the same small JSON:
 *   /plain    no interceptor of its own
 *   /noop     a pass-through interceptor (what any interceptor costs in Nest)
 *   /skipped  @TrackEvent(name, { on: 'error', props }) on a handler that succeeds: the
 *             interceptor's own work, no event
 *   /tracked  @TrackEvent(name, { props }) sending to the bench collector
 * `context: true`: the module with its default options (correlation headers read, so a request
 * context is opened for every handler call); `false`: `correlationIdHeaders: []`, so none is.
 * It sends `{ type: 'listening', port }`, serves the parent's autocannon runs, answers `cpu` with
 * its CPU time so far, and closes on `stop` with its emitter's counters (enqueued, sent, dropped).
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
import { benchSnowplowModule } from '../support/nest-app';
import { params, receive, report } from '../support/child';
import { APP_ID, EVENT_NAME, EVENT_PROPS } from '../support/subjects';

interface Params {
  collectorPort: number;
  /** Whether the module opens a request context per handler call (default options) or none. */
  context: boolean;
}

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
      p.context
        ? benchSnowplowModule(p.collectorPort)
        : SnowplowModule.forRoot({
            appId: APP_ID,
            collectorUrl: `http://127.0.0.1:${p.collectorPort}/com.snowplowanalytics.snowplow/tp2`,
            correlationIdHeaders: [],
          }),
    ],
    controllers: [BenchController],
    providers: [PassThroughInterceptor],
  })
  class AppModule {}

  const app = await NestFactory.create(AppModule, { logger: ['error', 'warn'] });
  await app.listen(0, '127.0.0.1');
  const { port } = app.getHttpServer().address() as { port: number };
  process.on('message', (message: { type?: string }) => {
    if (message?.type !== 'cpu') return;
    const cpu = process.cpuUsage();
    void report({ type: 'cpu', us: cpu.user + cpu.system });
  });
  const stop = receive('stop');
  await report({ type: 'listening', port });

  await stop;
  const emitter = app.get(EmitterService);
  await app.close();
  const stats = emitter.stats();
  await report({ type: 'result', enqueued: stats.enqueued, sent: stats.sent, dropped: stats.dropped });
  process.exit(0);
}

run().catch((err: unknown) => {
  console.error(err instanceof Error ? err.stack : err);
  process.exit(1);
});
