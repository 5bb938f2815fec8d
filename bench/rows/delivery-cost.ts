import type { BatchCost, ClientName } from '../children/delivery-cost';
import { runChild } from '../support/spawn';
import { BenchContext, RowResult } from '../support/context';
import { fmt, median, table } from '../support/stats';

const LABELS: Record<ClientName, string> = {
  axios: 'library `CollectorClient` (axios)',
  http: 'bare `node:http` `request()`, keep-alive agent',
  'http-signal': 'bare `node:http` + abort signal + timeout',
};

/** The client's CPU per event, µs. */
function usPerEvent(batch: BatchCost, client: ClientName): number {
  const c = batch.clients[client];
  return c.cpuUs / c.events;
}

/** Row 7: CPU per delivered event of the library's HTTP client against bare node:http, same bodies. */
export async function deliveryCostRow(ctx: BenchContext): Promise<RowResult> {
  const { batchSizes, eventsPerBlock, blocks, warmupRequests } = ctx.cfg.delivery;
  const runs: BatchCost[][] = [];
  for (let run = 0; run < ctx.cfg.runs; run++) {
    const { results } = await runChild<{ type: 'result'; results: BatchCost[] }>('delivery-cost.ts', {
      collectorPort: ctx.collector.port,
      batchSizes,
      eventsPerBlock,
      blocks,
      warmupRequests,
      bodies: 4,
    });
    runs.push(results);
    ctx.log(
      `delivery cost run ${run + 1}/${ctx.cfg.runs}: ` +
        results
          .map(
            (b) =>
              `${fmt(b.batchSize)}/batch axios ${fmt(usPerEvent(b, 'axios'), 2)} µs/event, ` +
              `node:http ${fmt(usPerEvent(b, 'http'), 2)}`,
          )
          .join('; '),
    );
  }
  const at = (i: number) => runs.map((r) => r[i]);
  const ratio = (i: number, client: ClientName) =>
    median(at(i).map((b) => usPerEvent(b, client) / usPerEvent(b, 'http')));
  const clients: ClientName[] = ['axios', 'http', 'http-signal'];
  const rows = batchSizes.flatMap((batchSize, i) =>
    clients.map((client) => {
      const costs = at(i).map((b) => b.clients[client]);
      return [
        client === 'axios' ? `**${fmt(batchSize)}** (${fmt(median(at(i).map((b) => b.bodyBytes)))} B body)` : '',
        LABELS[client],
        fmt(median(at(i).map((b) => usPerEvent(b, client))), 2),
        fmt(median(costs.map((c) => c.cpuUs / c.requests))),
        fmt(median(costs.map((c) => (c.wallMs * 1000) / c.requests))),
        client === 'http' ? '1×' : `${fmt(ratio(i, client), 2)}×`,
        client === 'axios' ? fmt(median(at(i).map((b) => b.serialiseUsPerEvent)), 2) : '',
      ];
    }),
  );
  const perClient = eventsPerBlock * blocks;
  const markdown = [
    `### 7. Delivery cost: the library's HTTP client (axios) against bare \`node:http\`, same request bodies (medians of ${ctx.cfg.runs})`,
    '',
    table(
      [
        'events per batch',
        'client',
        'CPU µs per event',
        'CPU µs per request',
        'wall µs per request',
        'CPU vs bare node:http (median of per-run ratios)',
        '`serialiseBatch` µs per event',
      ],
      rows,
    ),
    '',
    `Bodies: \`serialiseBatch\` (lib/emitter/batch-body.ts) over custom events from a real \`Tracker\`, 4 different bodies per ` +
      `batch size, posted in turn to the bench collector, one request at a time, about ${fmt(perClient)} events per client ` +
      `and batch size per run (${blocks} blocks, clients in rotated order, after ${warmupRequests} warm-up requests each). ` +
      `CPU: \`process.cpuUsage()\` of the sending process over the client's blocks (serialising not included; its cost is ` +
      `the last column). The library's client: \`new CollectorClient({ url, http: axios.create(), maxSockets: 4, ` +
      `timeoutMs: 5000, audience })\`, \`post(body, signal)\`. Bare: \`http.request(url, { method: 'POST', agent, headers })\` ` +
      `with \`new Agent({ keepAlive: true, maxSockets: 4 })\`, Content-Type and Content-Length, \`res.resume()\`; the third ` +
      `line adds the abort signal and timeout the emitter needs.`,
  ].join('\n');
  return {
    markdown,
    targets: batchSizes.map((batchSize, i) => ({
      target: `delivery, batches of ${fmt(batchSize)}: library client (axios) CPU per event within 1.3× of bare node:http (row 7)`,
      measured:
        `${fmt(ratio(i, 'axios'), 2)}× (${fmt(median(at(i).map((b) => usPerEvent(b, 'axios'))), 2)} vs ` +
        `${fmt(median(at(i).map((b) => usPerEvent(b, 'http'))), 2)} µs/event; runs: ` +
        `${at(i)
          .map((b) => fmt(usPerEvent(b, 'axios') / usPerEvent(b, 'http'), 2))
          .join(', ')})`,
      met: ratio(i, 'axios') <= 1.3,
    })),
  };
}
