/**
 * Synchronous last writes before the process goes away: on `process.exit()`, at the natural end
 * of the event loop, and when an uncaught exception or unhandled rejection is about to end it.
 * A `kill -9` runs nothing; what must survive that is written at the end of each tick instead.
 *
 * One pair of process listeners serves every hook, so any number of stores and files can
 * register without Node's "possible EventEmitter memory leak" warning.
 */
const hooks = new Set<() => void>();
let installed = false;

function runHooks(): void {
  for (const hook of [...hooks]) {
    try {
      hook();
    } catch {
      // The process is ending; one failing hook must not stop the others.
    }
  }
}

/** Registers `hook` to run synchronously before the process exits; returns the unregister function. */
export function onProcessExit(hook: () => void): () => void {
  if (!installed) {
    installed = true;
    process.on('exit', runHooks);
    // A monitor listener observes without handling: the crash goes on exactly as it would have.
    process.on('uncaughtExceptionMonitor', runHooks);
  }
  hooks.add(hook);
  return () => {
    hooks.delete(hook);
  };
}
