/** The longest delay Node's timers take (2^31-1 ms, about 24.8 days); longer ones fire at once. */
export const MAX_TIMER_MS = 2_147_483_647;

/** A delay setTimeout honours: NaN and negatives become 0, anything longer than MAX_TIMER_MS is capped. */
export function clampTimeout(ms: number): number {
  return Number.isNaN(ms) ? 0 : Math.min(Math.max(0, ms), MAX_TIMER_MS);
}
