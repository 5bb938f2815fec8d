import type { DeadLetterFile } from '../dead-letter/dead-letter-file';
import { EventStorage } from '../storage/event-storage.interface';
import { EmitterLog, errorMessage } from './emitter-log';
import { Losses } from './losses';
import { Settlement } from './settlement';

/** The dead-letter `error` of events left at `stop()`. */
export const LEFTOVER_AT_STOP = 'not delivered before the emitter stopped';

/** What `stop()` settles once the send loop has ended. */
export interface ShutdownParts {
  storage: EventStorage;
  /** The emitter built the storage from a config: it may empty and close it. */
  ownsStorage: boolean;
  settlement: Settlement;
  losses: Losses;
  log: EmitterLog;
  deadLetters?: DeadLetterFile;
}

/**
 * At stop, events that can no longer be sent are accounted for, never dropped without a word:
 * what only memory holds (the emitter's own store, events the storage never took) is given up as
 * `shutdown` (counted, dead-lettered, logged); what a durable store holds is kept for the next
 * start, and the log says so. A durable store's leased rows whose release it refused are among
 * those kept: they are still in its file, and its next open puts them back in the queue.
 */
export function accountForLeftovers(parts: ShutdownParts, error = LEFTOVER_AT_STOP): void {
  const { storage, ownsStorage, settlement, losses, log, deadLetters } = parts;
  losses.countEvictions(storage);
  const held = settlement.takeHeld();
  // A durable store's own rows (they carry its `id`) stay in its file: not lost, not dead-lettered.
  const inFile = storage.durable ? held.filter((event) => event.id !== undefined) : [];
  const lost = inFile.length > 0 ? held.filter((event) => event.id === undefined) : held;
  if (!storage.durable && ownsStorage) {
    try {
      lost.push(...storage.lease(storage.size));
    } catch (err) {
      log.error(`could not read the remaining events at shutdown: ${errorMessage(err)}`);
    }
  }
  if (lost.length > 0) {
    const billing = losses.giveUp(lost, 'shutdown', { error });
    const where = deadLetters ? `; dead-lettered to ${deadLetters.path}` : '';
    const message = `${lost.length} events not delivered at shutdown (${billing} billing) were dropped${where}`;
    if (billing > 0) log.error(message);
    else log.warn(message);
  }
  if (inFile.length > 0) {
    const billing = inFile.filter((event) => event.kind === 'billing').length;
    log.warn(
      `${inFile.length} leased events (${billing} billing) could not be put back into the outbox at shutdown; ` +
        'their rows are kept in it and are sent after the next start',
    );
  }
  const kept = sizeOrZero(storage);
  if (kept > 0) {
    const where = storage.durable ? 'the outbox' : 'the event store you passed';
    log.info(`${kept} events kept in ${where} for the next start`);
  }
}

/** Closes what the emitter owns: its store (when it built it) and the dead-letter file. */
export function closeOwned(parts: ShutdownParts): void {
  const { storage, ownsStorage, deadLetters, log } = parts;
  const quietly = (what: string, close: () => void) => {
    try {
      close();
    } catch (err) {
      log.error(`closing ${what} failed: ${errorMessage(err)}`);
    }
  };
  if (ownsStorage) quietly('the event store', () => storage.close?.());
  if (deadLetters) quietly('the dead-letter file', () => deadLetters.close());
}

function sizeOrZero(storage: EventStorage): number {
  try {
    return storage.size;
  } catch {
    return 0;
  }
}
