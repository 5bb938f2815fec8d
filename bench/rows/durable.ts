import { runChild } from '../support/spawn';
import { BenchContext, rotate, RowResult } from '../support/context';
import { fmt, mb, median, table } from '../support/stats';

type Store = 'sqlite' | 'memory';
const STORES: Store[] = ['sqlite', 'memory'];
const LABELS: Record<Store, string> = {
  sqlite: 'nestjs-snowplow, SQLite outbox (`storage: { type: "sqlite" }`)',
  memory: 'nestjs-snowplow, ring buffer (default)',
};

interface DurableResult {
  type: 'result';
  eventsPerSecond: number;
  held: number;
  fileBytes: number;
}

function usPerNumber(r: DurableResult): number {
  return 1e6 / r.eventsPerSecond;
}

function usPer(r: DurableResult): string {
  return usPerNumber(r).toFixed(1);
}

/** Row 6: events/s tracked into the durable SQLite store vs the ring buffer (send loop not started). */
export async function durableRow(ctx: BenchContext): Promise<RowResult> {
  const { events, chunk, billing } = ctx.cfg.durable;
  const results: Record<Store, DurableResult[]> = { sqlite: [], memory: [] };
  const billingResults: Record<Store, DurableResult[]> = { sqlite: [], memory: [] };
  for (let run = 0; run < ctx.cfg.runs; run++) {
    for (const storage of rotate(STORES, run)) {
      const common = { storage, deadPort: ctx.deadPort };
      results[storage].push(await runChild<DurableResult>('durable.ts', { ...common, kind: 'custom', events, chunk }));
      billingResults[storage].push(
        await runChild<DurableResult>('durable.ts', { ...common, kind: 'billing', events: billing, chunk: 100 }),
      );
    }
    ctx.log(
      `durable run ${run + 1}/${ctx.cfg.runs}: sqlite ${fmt(results.sqlite[run].eventsPerSecond)}/s, ` +
        `memory ${fmt(results.memory[run].eventsPerSecond)}/s; billing ${usPer(billingResults.sqlite[run])} µs ` +
        `(memory ${usPer(billingResults.memory[run])} µs)`,
    );
  }
  const billingUs = (s: Store) => median(billingResults[s].map((r) => 1e6 / r.eventsPerSecond));
  const rate = (s: Store) => median(results[s].map((r) => r.eventsPerSecond));
  const rows = STORES.map((s) => [
    LABELS[s],
    fmt(rate(s)),
    `${fmt(Math.min(...results[s].map((r) => r.eventsPerSecond)))}–${fmt(Math.max(...results[s].map((r) => r.eventsPerSecond)))}`,
    fmt(median(results[s].map((r) => r.held))),
    s === 'sqlite' ? mb(median(results[s].map((r) => r.fileBytes))) : '—',
  ]);
  const markdown = [
    `### 6. Durable outbox: ${fmt(events)} events tracked into the store, ${fmt(chunk)} per event-loop tick (medians of ${ctx.cfg.runs})`,
    '',
    table(['store', 'events/s tracked, median', 'min–max', 'events held', 'file size after'], rows),
    '',
    'The send loop is not started, so this is tracking into the store alone: `trackEvent` stays synchronous, and the ' +
      'SQLite store writes each tick’s events in one transaction (WAL, synchronous=NORMAL) when the tick ends. ' +
      'The time includes those writes.',
    '',
    `Billing events, ${fmt(billing)} tracked with \`trackBillingEventWithOptionalInput\`, each committed to the file ` +
      'before the call returns (one transaction per event):',
    '',
    table(
      ['store', 'µs per billing event, median', 'min–max'],
      STORES.map((s) => [
        LABELS[s],
        billingUs(s).toFixed(1),
        `${Math.min(...billingResults[s].map(usPerNumber)).toFixed(1)}–${Math.max(...billingResults[s].map(usPerNumber)).toFixed(1)}`,
      ]),
    ),
  ].join('\n');
  return {
    markdown,
    targets: [
      {
        target: '≥ 50,000 events/s tracked into the durable store (row 6)',
        measured: `${fmt(rate('sqlite'))} events/s (ring buffer: ${fmt(rate('memory'))})`,
        met: rate('sqlite') >= 50_000,
      },
      {
        target: 'SQLite synchronous billing commit, µs per billing event (reported, row 6)',
        measured: `${billingUs('sqlite').toFixed(1)} µs (in memory: ${billingUs('memory').toFixed(1)} µs)`,
        met: true,
      },
    ],
  };
}
