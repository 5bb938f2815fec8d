import { truncate } from './ajv-error-format';
import type { CollectorRecord } from './event-store';
import { parseIgluUri } from './iglu-uri';
import type { BadEvent, GoodEvent, SelfDescribingJson } from './types';

/**
 * One readable line for a recorded event:
 * `12:00:00.123Z GOOD ue signup eid=… props={…} contexts=billable_usage@1-0-2{…}` or
 * `12:00:00.123Z BAD eid=… cx: cx context 0 …: /realm must be …`.
 */
export function formatEventLine(record: CollectorRecord): string {
  return record.kind === 'good' ? formatGood(record.event) : formatBad(record.event);
}

function formatGood(event: GoodEvent): string {
  const parts = [clock(event.receivedAt), 'GOOD', event.eventType, event.name, `eid=${event.eid ?? '-'}`];
  parts.push(...structuredParts(event));
  if (event.props !== undefined) parts.push(`props=${compact(event.props, 120)}`);
  else if (event.data !== undefined) parts.push(`data=${compact(event.data, 120)}`);
  if (event.contexts.length > 0) parts.push(`contexts=${event.contexts.map(contextSummary).join(',')}`);
  return parts.join(' ');
}

function formatBad(event: BadEvent): string {
  const raw = event.raw as Record<string, unknown> | null;
  const eid = typeof raw?.eid === 'string' ? ` eid=${raw.eid}` : '';
  const reasons = event.errors.map((error) => `${error.field}: ${error.message}`).join('; ');
  return `${clock(event.receivedAt)} BAD${eid} ${reasons}`;
}

const STRUCTURED_LABELS: ReadonlyArray<[string, string]> = [
  ['se_ca', 'category'],
  ['se_la', 'label'],
  ['se_pr', 'property'],
  ['se_va', 'value'],
];

function structuredParts(event: GoodEvent): string[] {
  return STRUCTURED_LABELS.filter(([key]) => event.raw[key] !== undefined).map(
    ([key, label]) => `${label}=${JSON.stringify(event.raw[key])}`,
  );
}

function contextSummary(context: SelfDescribingJson): string {
  const key = parseIgluUri(context.schema);
  const name = key ? `${key.name}@${key.version}` : context.schema;
  return `${name}${compact(context.data, 80)}`;
}

function compact(value: unknown, max: number): string {
  return truncate(JSON.stringify(value) ?? String(value), max);
}

/** `HH:MM:SS.mmmZ` of an ISO timestamp. */
function clock(iso: string): string {
  return iso.length >= 24 ? iso.slice(11) : iso;
}
