import { EmitterLog, errorMessage } from './emitter-log';
import { DrainResult } from './send-result';

/** After the exit drain's deadline, how long the process is held at most for `stop()` to finish. */
const EXIT_STOP_GRACE_MS = 1_000;

/** What the exit drain needs of its emitter. */
export interface ExitDrainHost {
  readonly log: EmitterLog;
  /** `exitDrainTimeoutMs`. */
  readonly timeoutMs: number;
  /** Events queued or in flight as the process ends. */
  readonly waiting: number;
  drain(timeoutMs: number): Promise<DrainResult>;
  /** Stops the emitter; `reason` becomes the dead-letter `error` of the events left. */
  stop(reason: string): Promise<void>;
}

/**
 * `beforeExit` of a script that never called `drain()` or `stop()`: what is queued gets up to
 * `exitDrainTimeoutMs`, then `stop()` accounts for the rest. A ref'd timer holds the process, up
 * to the deadline plus a grace for `stop()`. Never rejects.
 */
export function drainAtExit(host: ExitDrainHost): Promise<void> {
  const { log, timeoutMs } = host;
  log.info(
    `the process is ending with ${host.waiting} events not yet sent and the emitter not stopped: ` +
      `sending them for up to ${timeoutMs} ms (exitDrainTimeoutMs) before it exits`,
  );
  const hold = setTimeout(() => undefined, timeoutMs + EXIT_STOP_GRACE_MS);
  return host
    .drain(timeoutMs)
    .then((result) => {
      if (!result.drained) {
        log.warn(
          `${result.remaining} events were not delivered within exitDrainTimeoutMs (${timeoutMs} ms) ` +
            'as the process ended: stopping the emitter',
        );
      }
      return host.stop(`not delivered within exitDrainTimeoutMs (${timeoutMs} ms) before the process ended`);
    })
    .catch((err: unknown) => log.error(`draining at process exit failed: ${errorMessage(err)}`))
    .finally(() => clearTimeout(hold));
}
