import { INestApplicationContext, Logger } from '@nestjs/common';

/**
 * Closes the app on SIGINT (Ctrl-C) or SIGTERM, then runs `afterClose` (the embedded collector
 * closes there, once it has received what the Snowplow emitter drained) and exits with 0, or 1 if
 * the shutdown failed.
 *
 * This stands in for `app.enableShutdownHooks()`: `app.close()` runs the same shutdown hooks
 * (the Snowplow module drains its queue in one), but Nest's own listener raises the signal again
 * once its hooks are done, so the process would end by the signal (exit status 130 for Ctrl-C)
 * instead of exiting 0.
 */
export function closeOnSignals(app: INestApplicationContext, afterClose?: () => Promise<void>): void {
  const logger = new Logger('SampleApp');
  let closing = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    // Later signals change nothing: a second Ctrl-C, or npm forwarding the first one.
    if (closing) return;
    closing = true;
    logger.log(`${signal}: closing once the app has shut down and drained its Snowplow queue`);
    void app
      .close()
      .then(() => afterClose?.())
      .then(
        () => process.exit(0),
        (error: unknown) => {
          logger.error(`shutdown failed: ${error instanceof Error ? error.stack : String(error)}`);
          process.exit(1);
        },
      );
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}
