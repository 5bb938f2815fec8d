import type { MemoryBreakdown, MemorySnapshot } from '../children/memory-breakdown';
import { runChild } from '../support/spawn';
import { BenchContext, RowResult } from '../support/context';
import { fmt, mb, median, table } from '../support/stats';

/** Row 9: heap bytes per queued event and the request bodies in flight, i.e. where a burst's memory goes. */
export async function memoryBreakdownRow(ctx: BenchContext): Promise<RowResult> {
  const { events, batchSizes } = ctx.cfg.memoryBreakdown;
  const runs: MemoryBreakdown[] = [];
  for (let run = 0; run < ctx.cfg.runs; run++) {
    const result = await runChild<MemoryBreakdown>(
      'memory-breakdown.ts',
      { collectorPort: ctx.collector.port, deadPort: ctx.deadPort, events, batchSizes },
      { exposeGc: true },
    );
    runs.push(result);
    ctx.log(
      `memory breakdown run ${run + 1}/${ctx.cfg.runs}: ${fmt(result.customPerEvent)} B per custom event, ` +
        `${fmt(result.billingPerEvent)} B per billing event`,
    );
  }
  const m = (pick: (r: MemoryBreakdown) => number) => median(runs.map(pick));
  const custom = m((r) => r.customPerEvent);
  const eid = m((r) => r.eidPerEvent);
  const props = m((r) => r.propsPerEvent);
  const perEventRows: string[][] = [
    ['custom event (`trackEvent`), queued', fmt(custom), mb(custom * events)],
    ['  of which its id: a flat 36-character string', fmt(eid), mb(eid * events)],
    ['  of which the props’ JSON text', fmt(props), mb(props * events)],
    [
      '  of which the rest: the event object (name, time, sizes, attempts)',
      fmt(custom - eid - props),
      mb((custom - eid - props) * events),
    ],
    [
      'billing event, queued (payload text written at track time)',
      fmt(m((r) => r.billingPerEvent)),
      mb(m((r) => r.billingPerEvent) * events),
    ],
    [
      'payload text of a custom event, written when its batch is serialised (transient)',
      fmt(m((r) => r.payloadTextPerEvent)),
      '—',
    ],
  ];
  const concurrent = runs[0].maxConcurrentRequests;
  const bodyRows = batchSizes.map((batchSize) => {
    const bytes = m((r) => r.bodies.find((b) => b.batchSize === batchSize)?.bytes ?? Number.NaN);
    return [fmt(batchSize), `${fmt(bytes)} B`, fmt(bytes / batchSize), mb(bytes * concurrent, 2)];
  });
  const snap = (pick: (r: MemoryBreakdown) => MemorySnapshot, label: string) => [
    label,
    mb(m((r) => pick(r).rss)),
    mb(m((r) => pick(r).heapUsed)),
    mb(m((r) => pick(r).heapTotal)),
    mb(m((r) => pick(r).external)),
  ];
  const markdown = [
    `### 9. Memory: where the bytes go (${fmt(events)} events queued before the send loop starts, then drained; fresh process, \`--expose-gc\`; medians of ${ctx.cfg.runs})`,
    '',
    table(['held in memory', 'heap bytes per event', `for ${fmt(events)} events`], perEventRows),
    '',
    `The emitter itself with a custom lane of ${fmt(events)} slots, nothing queued: ${mb(
      m((r) => r.emitterFixed),
      2,
    )} of heap ` + '(the lane’s slots are allocated up front, 8 B each).',
    '',
    `Request bodies (Buffers, outside the V8 heap), built with \`serialiseBatch\`; up to ${concurrent} ` +
      '(`maxConcurrentRequests`) are in flight at once:',
    '',
    table(['events per batch', 'body', 'bytes per event', `${concurrent} in flight`], bodyRows),
    '',
    'The process:',
    '',
    table(
      ['', 'RSS', 'heap used', 'heap reserved (heapTotal)', 'external + array buffers'],
      [
        snap((r) => r.empty, 'library loaded, emitter built, nothing queued (after GC)'),
        snap((r) => r.queuedNoGc, `${fmt(events)} custom events tracked, before any GC`),
        snap((r) => r.queued, `${fmt(events)} custom events queued, after GC`),
        snap((r) => r.drainedNoGc, `all drained to the collector (\`drain()\`), before any GC`),
      ],
    ),
    '',
    `Peak RSS of the process: ${mb(m((r) => r.peakRssBeforeDrain))} before the drain, ${mb(m((r) => r.peakRss))} after it ` +
      `(drain of ${fmt(events)} events in ${fmt(m((r) => r.drainMs))} ms, default batch sizes).`,
    '',
    'Heap bytes per event: `heapUsed` after `gc()` (three times) before and after tracking, divided by the count ' +
      '(the billing events last, in an emitter of their own). The parts of a custom event are measured alone, after the ' +
      `drain (${fmt(events)} of each kept in a preallocated array). A custom event keeps ` +
      'its id, time, name and props’ text, and writes its payload (base64 `ue_px` included) only when its batch is ' +
      'serialised: that text lives only while the body is written. A billing event keeps its whole payload text.',
  ].join('\n');
  return { markdown, targets: [] };
}
