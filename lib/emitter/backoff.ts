/** Exponential backoff with full jitter between failed attempts. */
export interface BackoffOptions {
  /** First delay ceiling, ms. Default 100. */
  baseMs?: number;
  /** Growth per consecutive failure. Default 2. */
  factor?: number;
  /** Largest delay, ms. Default 30,000. */
  capMs?: number;
}

export const DEFAULT_BACKOFF: Required<BackoffOptions> = { baseMs: 100, factor: 2, capMs: 30_000 };

/** Exponential backoff with full jitter: the n-th delay is uniform in [0, min(cap, base * factor^n)]. */
export class Backoff {
  private failures = 0;

  constructor(
    private readonly options: Required<BackoffOptions>,
    private readonly random: () => number = Math.random,
  ) {}

  /** The ceiling of the next delay, without jitter. */
  get ceilingMs(): number {
    const { baseMs, factor, capMs } = this.options;
    return Math.min(capMs, baseMs * Math.pow(factor, this.failures));
  }

  /** Delay before the next attempt; each call counts one more consecutive failure. */
  next(): number {
    const delay = Math.floor(this.random() * this.ceilingMs);
    this.failures++;
    return delay;
  }

  reset(): void {
    this.failures = 0;
  }
}

/**
 * Parses a Retry-After header (delay in seconds, or an HTTP date) into ms from `now`; undefined if
 * absent or invalid.
 */
export function parseRetryAfter(header: unknown, now: number): number | undefined {
  if (typeof header !== 'string') return undefined;
  const text = header.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const date = Date.parse(text);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}
