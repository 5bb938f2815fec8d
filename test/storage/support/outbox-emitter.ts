import { Emitter, EventStorage, Tracker } from '../../../lib/core';
import { quietLogger } from '../../support/emitter-harness';

/**
 * A started emitter on an outbox, one request at a time with a short backoff, and a tracker on it:
 * what the outbox suites use to see rows leave the file in order.
 */
export function outboxEmitter(
  collectorUrl: string,
  storage: EventStorage | { type: 'sqlite'; path: string },
  batchSize = 10,
) {
  const emitter = new Emitter({
    collectorUrl,
    storage,
    batchSize,
    maxConcurrentRequests: 1,
    backoff: { baseMs: 5, capMs: 20 },
    logger: quietLogger,
  });
  emitter.start();
  return { emitter, tracker: new Tracker({ appId: 'outbox', emitter }) };
}
