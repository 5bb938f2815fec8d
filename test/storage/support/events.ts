import type { EventKind, QueuedEvent } from '../../../lib/core';

/** A queued event for storage tests: eid `c<n>` or `b<n>`, dtm `n`, payload `{}` (2 bytes) unless `fields` differ. */
export function queued(kind: EventKind, n: number, fields: Partial<QueuedEvent> = {}): QueuedEvent {
  return { kind, eid: `${kind === 'billing' ? 'b' : 'c'}${n}`, dtm: n, json: '{}', bytes: 2, attempts: 0, ...fields };
}

/** `queued('custom', n)`, one argument only, so that it can be passed to `map`. */
export const customEvent = (n: number): QueuedEvent => queued('custom', n);

/** `queued('billing', n)`. */
export const billingEvent = (n: number): QueuedEvent => queued('billing', n);

/** Lets a storage's end-of-tick write run. */
export const nextTick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
