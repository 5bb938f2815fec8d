import type { DeadLetterFile } from '../dead-letter/dead-letter-file';
import { EventStorage } from '../storage/event-storage.interface';
import { EmitterLog, errorMessage } from './emitter-log';
import { Losses } from './losses';
import { Settlement } from './settlement';

/** How long `stop()` lets a store with a write-behind buffer commit it. */
const PERSIST_AT_STOP_MS = 5_000;

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
export async function accountForLeftovers(parts: ShutdownParts, error = LEFTOVER_AT_STOP): Promise<void> {
  const { storage, ownsStorage, settlement, losses, log, deadLetters } = parts;
  losses.countEvictions(storage);
  if (storage.persist) await persistBuffered(parts);
  const held = settlement.takeHeld();
  // A durable store's own rows (they carry its `id`) stay in its file: not lost, not dead-lettered.
  const inFile = storage.durable ? held.filter((event) => event.id !== undefined) : [];
  const lost = inFile.length > 0 ? held.filter((event) => event.id === undefined) : held;
  if (!storage.durable && ownsStorage) {
    try {
      lost.push(...(await storage.lease(storage.size)));
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
  if (storage.countAll) {
    await nameWhatIsLeft(parts);
    return;
  }
  const kept = sizeOrZero(storage);
  if (kept === 0) return;
  if (!storage.durable) {
    log.info(`${kept} events kept in the event store you passed for the next start`);
    return;
  }
  const where = storage.location ? `the outbox ${storage.location}` : 'the outbox';
  const billing = sizeOrZero(storage, 'billing');
  const message =
    `${kept} events (${billing} billing) are kept in ${where} for the next start; they are lost if this disk ` +
    'does not outlive the process (a pod with an ephemeral disk: use a persistent volume or the PostgreSQL store)';
  if (billing > 0) log.warn(message);
  else log.info(message);
}

/** A store with a write-behind buffer (PostgreSQL) commits it first; what it cannot is reported by the store. */
async function persistBuffered({ storage, log }: ShutdownParts): Promise<void> {
  try {
    await storage.persist?.(PERSIST_AT_STOP_MS);
  } catch (err) {
    log.error(
      `could not write the buffered events to ${storage.location ?? 'the event store'} at shutdown: ${errorMessage(err)}`,
    );
  }
}

/** A store every instance relays (PostgreSQL): what is left stays for the others; nothing is lost. */
async function nameWhatIsLeft({ storage, log }: ShutdownParts): Promise<void> {
  try {
    const left = (await storage.countAll?.()) ?? 0;
    if (left > 0)
      log.info(
        `${left} events are left in ${storage.location ?? 'the shared event store'} for another instance or the next start`,
      );
  } catch (err) {
    log.warn(
      `could not count the events left in ${storage.location ?? 'the shared event store'} at shutdown ` +
        `(${errorMessage(err)}); they stay there for another instance or the next start`,
    );
  }
}

/** Closes what the emitter owns: its store (when it built it) and the dead-letter file. */
export async function closeOwned(parts: ShutdownParts): Promise<void> {
  const { storage, ownsStorage, deadLetters, log } = parts;
  const quietly = async (what: string, close: () => unknown) => {
    try {
      await close();
    } catch (err) {
      log.error(`closing ${what} failed: ${errorMessage(err)}`);
    }
  };
  if (ownsStorage) await quietly('the event store', () => storage.close?.());
  if (deadLetters) await quietly('the dead-letter file', () => deadLetters.close());
}

function sizeOrZero(storage: EventStorage, kind?: 'billing'): number {
  try {
    return kind ? storage.sizeOf(kind) : storage.size;
  } catch {
    return 0;
  }
}
