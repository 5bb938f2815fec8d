/** The child side of bench/support/spawn.ts: parameters in, messages out. */
import type { Message } from './spawn';

// Whatever happens to the orchestrator (a crash, Ctrl-C), a measured process does not outlive it.
if (process.send) process.on('disconnect', () => process.exit(1));

/** The JSON parameters the parent passed (argv[2]). */
export function params<T>(): T {
  return JSON.parse(process.argv[2] ?? '{}') as T;
}

/** Sends a message to the parent and resolves once it is written. */
export function report(message: Message): Promise<void> {
  return new Promise((resolve, reject) => {
    if (!process.send) {
      console.log(JSON.stringify(message));
      resolve();
      return;
    }
    process.send(message, undefined, {}, (err) => (err ? reject(err) : resolve()));
  });
}

/** Resolves with the next message of this type from the parent. */
export function receive<T extends Message = Message>(type: string): Promise<T> {
  return new Promise((resolve) => {
    const listener = (message: Message) => {
      if (message?.type !== type) return;
      process.off('message', listener);
      resolve(message as T);
    };
    process.on('message', listener);
  });
}

/** Runs a child's main function: a failure is printed and exits 1; success exits 0. */
export function main(fn: () => Promise<void>): void {
  fn().then(
    () => {
      process.disconnect?.();
      process.exit(0);
    },
    (err: unknown) => {
      console.error(err instanceof Error ? err.stack : err);
      process.exit(1);
    },
  );
}

/**
 * Ends a measured interval (bench/support/callgrind.ts): tells the parent, which has callgrind
 * dump the count since the previous mark, and waits (idle) until it says go on.
 */
export async function mark(label: string): Promise<void> {
  // INSTR_TRACE_MARKS=1: the marks in the child's output, between the lines of V8 tracing flags
  // (INSTR_NODE_FLAGS="--trace-opt --trace-deopt"), to see what happens inside which interval.
  if (process.env.INSTR_TRACE_MARKS) console.log(`=== mark ${label}`);
  const go = receive('go');
  await report({ type: 'mark', label });
  await go;
}

/** A full GC when the process runs with --expose-gc (every measured one does); a no-op otherwise. */
export function collectGarbage(): void {
  (globalThis as { gc?: () => void }).gc?.();
}
