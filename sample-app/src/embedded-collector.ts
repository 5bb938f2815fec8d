import { Logger } from '@nestjs/common';
import { formatEventLine, LocalCollector, startLocalCollector } from 'nestjs-snowplow/testing';
import { EmbeddedCollectorConfig } from './config';
import { SAMPLE_IGLU_DIR } from './schemas';

/**
 * Starts the local collector of `nestjs-snowplow/testing` in this process, like Snowplow Micro:
 * it validates every event against the Iglu schemas (the library's and the sample's own, in
 * sample-app/iglu), logs it on one line, and serves what it received on /micro/good, /micro/bad
 * and /micro/all.
 */
export async function startEmbeddedCollector({ port, host }: EmbeddedCollectorConfig): Promise<LocalCollector> {
  const logger = new Logger('LocalCollector');
  try {
    return await startLocalCollector({
      port,
      host,
      // The sample's own schemas, beside the built-in ones (Snowplow's protocol, custom_event,
      // billable_usage): without them its com.example events would be bad events.
      schemaDirs: [SAMPLE_IGLU_DIR],
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
 * Closes the collector; call it once the app has closed (see closeOnSignals in main.ts), so that
 * it still receives what the Snowplow emitter drains on shutdown.
 */
export async function closeCollector(collector: LocalCollector): Promise<void> {
  await collector.close();
  const { good, bad } = collector.all();
  new Logger('LocalCollector').log(`closed; it received ${good} good and ${bad} bad events`);
}
