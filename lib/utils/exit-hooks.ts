/**
 * Synchronous last writes before the process goes away: on `process.exit()`, at the natural end
 * of the event loop, and when an uncaught exception or unhandled rejection is about to end it.
 * A `kill -9` runs nothing; what must survive that is written at the end of each tick instead.
 *
 * One set of process listeners serves every hook, so any number of stores and files can
 * register without Node's "possible EventEmitter memory leak" warning.
 */

/** Hooks that one set of process listeners runs; a failing hook never stops the others. */
function hookRegistry(events: readonly string[]): (hook: () => void) => () => void {
  const hooks = new Set<() => void>();
  let installed = false;
  const run = (): void => {
    for (const hook of [...hooks]) {
      try {
        hook();
      } catch {
        // The process is ending; one failing hook must not stop the others.
      }
    }
  };
  return (hook) => {
    if (!installed) {
      installed = true;
      for (const event of events) process.on(event, run);
    }
    hooks.add(hook);
    return () => {
      hooks.delete(hook);
    };
  };
}

/**
 * Registers `hook` to run synchronously before the process exits; returns the unregister function.
 * A monitor listener (`uncaughtExceptionMonitor`) observes without handling: the crash goes on
 * exactly as it would have.
 */
export const onProcessExit = hookRegistry(['exit', 'uncaughtExceptionMonitor']);

/**
 * Registers `hook` to run on `beforeExit` (each time it fires); returns the unregister function.
 * `beforeExit`: the event loop has emptied and the process is about to end on its own (not on
 * `process.exit()` or a signal). A hook may start async work; a timer or socket it keeps open
 * holds the process until that work is done, after which `beforeExit` fires again.
 */
export const onBeforeExit = hookRegistry(['beforeExit']);

/**
 * Registers `hook` to run synchronously on `exit` only: the process is certainly ending
 * (`process.exit()`, the end of the event loop, or an uncaught exception that was not handled),
 * unlike `uncaughtExceptionMonitor`, after which an `uncaughtException` handler may keep it alive.
 * For records of what is lost, which must not be written for a process that goes on.
 */
export const onExit = hookRegistry(['exit']);
