import type { ReplayDeadLettersResult } from '../../../lib/core';

/** A whole replay result: the counts not given are 0. */
export function counts(given: Partial<ReplayDeadLettersResult>): ReplayDeadLettersResult {
  const zero = { total: 0, delivered: 0, remaining: 0, invalid: 0, refused: 0, conflicts: 0, unsent: 0 };
  return { ...zero, appended: 0, resumed: 0, ...given };
}
