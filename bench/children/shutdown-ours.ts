/**
 * Row 4 (ours): a Nest HTTP app with SnowplowModule and enableShutdownHooks() tracks N events,
 * tells the parent, and the parent sends SIGTERM. Nest's shutdown hook drains the emitter; the
 * parent then asks the collector how many arrived.
 */
import 'reflect-metadata';
import { Controller, Get, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { TrackerService } from 'nestjs-snowplow';
import { benchSnowplowModule } from '../support/nest-app';
import { params, report } from '../support/child';
import { EVENT_NAME, EVENT_PROPS } from '../support/subjects';

interface Params {
  collectorPort: number;
  events: number;
}

@Controller()
class HealthController {
  @Get('health')
  health(): { ok: boolean } {
    return { ok: true };
  }
}

async function run(): Promise<void> {
  const p = params<Params>();

  @Module({
    imports: [benchSnowplowModule(p.collectorPort)],
    controllers: [HealthController],
  })
  class AppModule {}

  const app = await NestFactory.create(AppModule, { logger: ['error', 'warn'] });
  app.enableShutdownHooks();
  await app.listen(0, '127.0.0.1');
  const tracker = app.get(TrackerService);
  const props = EVENT_PROPS as Record<string, unknown>;
  for (let i = 0; i < p.events; i++) tracker.trackEvent(EVENT_NAME, props);
  await report({ type: 'tracked', at: performance.timeOrigin + performance.now() });
  // From here on the process lives until the parent's SIGTERM; Nest's hook runs the drain
  // and then re-sends the signal to end the process.
}

run().catch((err: unknown) => {
  console.error(err instanceof Error ? err.stack : err);
  process.exit(1);
});
