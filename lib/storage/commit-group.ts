import { CommitOutcome } from '../tracker/payload';

const ignore = (): void => undefined;

/** A commit promise with a no-op rejection handler attached: one nobody awaits never becomes an unhandled rejection. */
function handled(promise: Promise<CommitOutcome>): Promise<CommitOutcome> {
  promise.catch(ignore);
  return promise;
}

/** The commit promise of every event a store committed before its track call returned. */
export const DURABLE: Promise<CommitOutcome> = Promise.resolve({ durable: true });

/**
 * The commit promise shared by the events of one write that happens later (SQLite's end-of-tick
 * write, PostgreSQL's write-behind flush): `current()` is the promise of the write to come,
 * created on first use; `committed()` resolves it and `failed()` rejects it, and the next event
 * gets a new one. One promise per write, not per event.
 */
export class CommitGroup {
  private promise?: Promise<CommitOutcome>;
  private settle?: { resolve(outcome: CommitOutcome): void; reject(err: Error): void };

  /** The promise of the write to come. */
  current(): Promise<CommitOutcome> {
    if (this.promise) return this.promise;
    this.promise = handled(
      new Promise<CommitOutcome>((resolve, reject) => {
        this.settle = { resolve, reject };
      }),
    );
    return this.promise;
  }

  /** The write committed: its events are durable. */
  committed(): void {
    this.settle?.resolve({ durable: true });
    this.promise = undefined;
    this.settle = undefined;
  }

  /** The write was given up: its events were not stored (the store keeps a record of them elsewhere). */
  failed(err: Error): void {
    this.settle?.reject(err);
    this.promise = undefined;
    this.settle = undefined;
  }
}
