/** The emitter's mutable counters, shared by the emitter and its send passes. */
export class EmitterState {
  stopped = false;
  /** Events leased and not yet settled. */
  inFlight = 0;
  enqueued = 0;
  /** Events the collector accepted. */
  sent = 0;
  /** Failed batch requests since the last success (answers that are retried). */
  consecutiveFailures = 0;
  /** Requests the collector refused for their credentials. */
  authFailures = 0;
  lastSuccessAt?: number;
  lastError?: string;
}
