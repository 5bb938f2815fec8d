import { INestApplicationContext, Logger } from '@nestjs/common';
import { formatEventLine, LocalCollector, startLocalCollector } from 'nestjs-snowplow/testing';
import { EmbeddedCollectorConfig } from './config';

/**
 * Starts the local collector of `nestjs-snowplow/testing` in this process, like Snowplow Micro:
 * it validates every event against the Iglu schemas, logs it on one line, and serves what it
 * received on /micro/good, /micro/bad and /micro/all.
 */
export async function startEmbeddedCollector({ port, host }: EmbeddedCollectorConfig): Promise<LocalCollector> {
  const logger = new Logger('LocalCollector');
  try {
    return await startLocalCollector({
      port,
      host,
      onEvent: (record) => {
        const line = formatEventLine(record);
        if (record.kind === 'good') logger.log(line);
        else logger.warn(line);
      },
    });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EADDRINUSE') {
      throw new Error(
        `the embedded collector cannot listen on ${host}:${port}, which is in use: ` +
          'set COLLECTOR_PORT to another port, or SNOWPLOW_COLLECTOR_URL to send to a running collector',
        { cause: error },
      );
    }
    throw error;
  }
}

/** `curl` target of a collector path, `localhost:9090/micro/good` for the default setup. */
export function collectorAddress(collector: LocalCollector, host: string, path: string): string {
  const loopback = ['127.0.0.1', 'localhost', '0.0.0.0', '::', '::1'].includes(host);
  return loopback ? `localhost:${collector.port}${path}` : `${collector.url}${path}`;
}

/**
 * Keeps the collector open until the app has closed: it must still receive what the Snowplow
 * emitter drains on shutdown. On SIGINT or SIGTERM, Nest shuts the app down (enableShutdownHooks);
 * `app.close()` joins that shutdown, then the collector closes and the process exits with 0.
 */
export function closeCollectorAfterApp(app: INestApplicationContext, collector: LocalCollector): void {
  const logger = new Logger('LocalCollector');
  let closing = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    // Later signals change nothing: a second Ctrl-C, npm forwarding the first one, or Nest
    // raising it again once its shutdown is done (this listener keeps that from ending the process).
    if (closing) return;
    closing = true;
    logger.log(`${signal}: closing once the app has shut down and drained its Snowplow queue`);
    void app
      .close()
      .then(() => collector.close())
      .then(
        () => {
          const { good, bad } = collector.all();
          logger.log(`closed; it received ${good} good and ${bad} bad events`);
          process.exit(0);
        },
        (error: unknown) => {
          logger.error(`shutdown failed: ${error instanceof Error ? error.stack : String(error)}`);
          process.exit(1);
        },
      );
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}
