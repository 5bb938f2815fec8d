import type { BenchConfig } from '../config';
import type { CollectorClient } from './collector-client';

export interface BenchContext {
  cfg: BenchConfig;
  collector: CollectorClient;
  /** A loopback port nothing listens on: the collector is down. */
  deadPort: number;
  /** Progress, to stderr. */
  log(message: string): void;
}

/** One line of the targets table: measured against target, never asserted. */
export interface TargetCheck {
  target: string;
  measured: string;
  met: boolean;
}

export interface RowResult {
  markdown: string;
  targets: TargetCheck[];
}

/** The list rotated by `by` places: each run starts with a different subject. */
export function rotate<T>(list: readonly T[], by: number): T[] {
  const k = by % list.length;
  return [...list.slice(k), ...list.slice(0, k)];
}
