import 'reflect-metadata';
import { INestApplication, Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { AddressInfo } from 'node:net';
import { EmitterService } from 'nestjs-snowplow';
import type { LocalCollector } from 'nestjs-snowplow/testing';
import { AppModule } from './app.module';
import { AppConfig } from './config';
import { closeCollector, collectorAddress, startEmbeddedCollector } from './embedded-collector';
import { closeOnSignals } from './shutdown';

const logger = new Logger('SampleApp');

async function bootstrap(): Promise<void> {
  let config = AppConfig.fromEnv(process.env);
  // Without SNOWPLOW_COLLECTOR_URL, events go to a collector running inside this process.
  let collector: LocalCollector | undefined;
  if (!config.snowplow.collectorUrl) {
    collector = await startEmbeddedCollector(config.embeddedCollector);
    config = config.withCollectorUrl(collector.endpoint);
  }

  let app: INestApplication | undefined;
  try {
    // abortOnError: false makes a startup failure an error to report instead of process.abort().
    app = await NestFactory.create(AppModule.forRoot(config), { abortOnError: false });
    // SIGTERM and SIGINT close the app: the HTTP server stops, the Snowplow emitter drains its
    // queue, then the embedded collector closes and the process exits with 0. (An app without its
    // own signal handling calls app.enableShutdownHooks() instead; see shutdown.ts for the difference.)
    const embedded = collector;
    closeOnSignals(app, embedded && (() => closeCollector(embedded)));
    await app.listen(config.port);
  } catch (error) {
    await app?.close();
    await collector?.close();
    throw error;
  }

  const { port } = app.getHttpServer().address() as AddressInfo;
  logger.log(`Listening on http://localhost:${port}`);
  if (collector) {
    const host = config.embeddedCollector.host;
    logger.log(
      `Snowplow events go to the embedded local collector at ${collector.url} (set SNOWPLOW_COLLECTOR_URL to use another collector)`,
    );
    const viewer = collectorAddress(collector, host, '/micro/ui').replace(/^(?!http)/, 'http://');
    logger.log(`  open the event viewer: ${viewer}`);
    logger.log(`  each event is logged below; see them all: curl ${collectorAddress(collector, host, '/micro/good')}`);
    logger.log(
      `  counts: curl ${collectorAddress(collector, host, '/micro/all')}   invalid events: curl ${collectorAddress(collector, host, '/micro/bad')}`,
    );
  } else {
    logger.log(`Snowplow events go to ${app.get(EmitterService).collectorUrl} (SNOWPLOW_COLLECTOR_URL)`);
  }
  logger.log(`Metrics: curl localhost:${port}/metrics`);
  logger.log(
    `Try: curl -X POST localhost:${port}/jobs -H 'Content-Type: application/json' -d '{"projectId":42,"name":"build"}'`,
  );
}

bootstrap().catch((error: unknown) => {
  logger.error(`could not start: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
});
