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

/**
 * Hooks for `beforeExit`: the event loop has emptied and the process is about to end on its own
 * (not on `process.exit()` or a signal). A hook may start async work; a timer or socket it keeps
 * open holds the process until that work is done, after which `beforeExit` fires again. One
 * process listener serves every hook.
 */
const beforeExitHooks = new Set<() => void>();
let beforeExitInstalled = false;

function runBeforeExitHooks(): void {
  for (const hook of [...beforeExitHooks]) {
    try {
      hook();
    } catch {
      // One failing hook must not stop the others.
    }
  }
}

/** Registers `hook` to run on `beforeExit` (each time it fires); returns the unregister function. */
export function onBeforeExit(hook: () => void): () => void {
  if (!beforeExitInstalled) {
    beforeExitInstalled = true;
    process.on('beforeExit', runBeforeExitHooks);
  }
  beforeExitHooks.add(hook);
  return () => {
    beforeExitHooks.delete(hook);
  };
}
