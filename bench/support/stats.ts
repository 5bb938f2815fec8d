/** Small statistics and formatting helpers for the results table. */

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

export function min(values: readonly number[]): number {
  return values.length ? Math.min(...values) : Number.NaN;
}

export function max(values: readonly number[]): number {
  return values.length ? Math.max(...values) : Number.NaN;
}

/** A number with thousands separators and `digits` decimals; "n/a" for NaN. */
export function fmt(value: number, digits = 0): string {
  if (!Number.isFinite(value)) return 'n/a';
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

export function mb(bytes: number, digits = 1): string {
  return `${fmt(bytes / (1024 * 1024), digits)} MB`;
}

/** `median (min–max)` of a set of runs. */
export function spread(values: readonly number[], digits = 0, unit = ''): string {
  if (values.length === 0) return 'n/a';
  if (values.length === 1) return `${fmt(values[0], digits)}${unit}`;
  return `${fmt(median(values), digits)}${unit} (${fmt(min(values), digits)}–${fmt(max(values), digits)})`;
}

/** A markdown table. */
export function table(header: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  const line = (cells: readonly string[]) => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}
