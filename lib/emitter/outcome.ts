/**
 * What the emitter does with a batch after the collector answered (or did not). A pure function
 * of the answer, the batch size and the retry rules, so every rule of data safety sits in one
 * table: nothing here sends, logs or counts.
 */
export type Verdict =
  /** 2xx: delivered, whatever the body says. */
  | { action: 'deliver' }
  /** The collector refuses the batch as a whole (413, or 400/422): halve it to find the events it refuses. */
  | { action: 'split' }
  /** The collector will never take these events: dead-letter them. */
  | { action: 'dead-letter'; reason: 'rejected' | 'too_large' }
  /** A failure that may pass: keep the events and retry after a backoff. `hint` names what the log should say. */
  | { action: 'retry'; hint?: RetryHint };

/** Failures worth a specific line in the log, each once per run of failures. */
export type RetryHint = 'redirect' | 'auth' | 'not_found';

export interface OutcomeRules {
  /** Statuses whose events are never retried (dead-lettered, after bisection for 400 and 422). */
  dontRetry: ReadonlySet<number>;
}

/** Statuses that may be caused by single events, so a batch answered with them is bisected. */
const BISECTED = new Set([400, 413, 422]);

/**
 * Decides what happens to a batch of `batchSize` events the collector answered with `statusCode`
 * (-1 for a local error: refused, reset, timeout, token failure).
 *
 * | answer | batch of several | single event |
 * | --- | --- | --- |
 * | 2xx | deliver | deliver |
 * | 413 | split | dead-letter `too_large` |
 * | 400, 422 (when not to be retried) | split | dead-letter `rejected` |
 * | other statuses not to be retried (410) | dead-letter `rejected` | dead-letter `rejected` |
 * | 3xx (redirects are not followed) | retry, hint `redirect` | same |
 * | 401, 403 (after one token refresh) | retry, hint `auth` | same |
 * | 404 | retry, hint `not_found` | same |
 * | anything else, and local errors | retry | same |
 */
export function classifyOutcome(statusCode: number, batchSize: number, rules: OutcomeRules): Verdict {
  if (statusCode >= 200 && statusCode < 300) return { action: 'deliver' };
  if (statusCode === 413) return batchSize > 1 ? { action: 'split' } : { action: 'dead-letter', reason: 'too_large' };
  if (statusCode !== -1 && rules.dontRetry.has(statusCode)) {
    return batchSize > 1 && BISECTED.has(statusCode)
      ? { action: 'split' }
      : { action: 'dead-letter', reason: 'rejected' };
  }
  if (statusCode >= 300 && statusCode < 400) return { action: 'retry', hint: 'redirect' };
  if (statusCode === 401 || statusCode === 403) return { action: 'retry', hint: 'auth' };
  if (statusCode === 404) return { action: 'retry', hint: 'not_found' };
  return { action: 'retry' };
}
