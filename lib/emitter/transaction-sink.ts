import { EmitterStoppedError, EventTooLargeError, StorageError } from '../errors';
import { EventStorage } from '../storage/event-storage.interface';
import { sqlExecutorOf } from '../storage/postgres-transaction';
import { QueuedEvent } from '../storage/queued-event';
import { bodyBytes, CommitOutcome, EventSink, TrackedPayload } from '../tracker/payload';
import type { TransactionLike } from '../tracker/transaction';
import { errorMessage } from './emitter-log';
import { storeLocation } from './storage-failures';

/** What a transaction sink needs of its emitter. */
export interface TransactionSinkHost {
  readonly storage: EventStorage;
  readonly maxEventBytes: number;
  readonly stopped: boolean;
  /** The event's row is written in the caller's transaction. */
  written(event: QueuedEvent): void;
  correlationIdDropped(eid: string, length: number): void;
}

/** Resolved once a row is written in the caller's transaction (durable at its COMMIT). */
const WRITTEN: CommitOutcome = { durable: true };

/**
 * Where `Tracker.inTransaction(tx)` puts its events: each is inserted through the caller's open
 * transaction, so it becomes visible to the relays at the caller's COMMIT and a rollback leaves
 * no event. `enqueue` returns the insert's promise; a failed insert rejects it with a
 * `StorageError` whose `cause` is what the statement threw (the caller's transaction reports its
 * own errors, and is usually aborted by them).
 */
export function transactionSink(host: TransactionSinkHost, tx: TransactionLike): EventSink {
  const { storage } = host;
  if (!storage.insertInTransaction) {
    throw new StorageError(
      storeLocation(storage),
      "cannot write in a caller's transaction: inTransaction needs the PostgreSQL store (storage: { type: 'postgres' })",
      'STORAGE_NO_TRANSACTIONS',
    );
  }
  const insert = storage.insertInTransaction.bind(storage);
  const exec = sqlExecutorOf(tx);
  return {
    maxEventBytes: host.maxEventBytes,
    correlationIdDropped: (eid, length) => host.correlationIdDropped(eid, length),
    enqueue(payload: TrackedPayload): Promise<CommitOutcome> {
      if (host.stopped) throw new EmitterStoppedError();
      const bytes = payload.bytes ?? bodyBytes(payload.json);
      if (bytes > host.maxEventBytes) throw new EventTooLargeError(bytes, host.maxEventBytes);
      const event: QueuedEvent = {
        kind: payload.kind,
        eid: payload.eid,
        dtm: payload.dtm,
        json: payload.json,
        bytes,
        attempts: 0,
      };
      return insert([event], exec).then(
        () => {
          host.written(event);
          return WRITTEN;
        },
        (err: unknown) => {
          const error = new StorageError(
            storeLocation(storage),
            `could not write event ${event.eid} in the caller's transaction: ${errorMessage(err)}`,
            'STORAGE_TRANSACTION_FAILED',
          );
          (error as { cause?: unknown }).cause = err;
          throw error;
        },
      );
    },
  };
}
