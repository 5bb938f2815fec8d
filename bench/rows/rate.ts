import { BenchContext, rotate, RowResult } from '../support/context';
import { budgetMs, cpuPerEvent, RateResult, runRate } from '../support/rate';
import { fmt, median, table } from '../support/stats';
import { SUBJECT_LABELS, SubjectName } from '../support/subjects';

/** A line of row 1b: a subject, and for ours' billing line, a billing event every `billingEvery` calls. */
interface Line {
  id: 'ours' | 'node-tracker' | 'floor' | 'ours-billing';
  subject: SubjectName;
  billingEvery?: number;
  label: string;
}

function lines(billingEvery: number): Line[] {
  return [
    { id: 'ours', subject: 'ours', label: SUBJECT_LABELS.ours },
    { id: 'node-tracker', subject: 'node-tracker', label: SUBJECT_LABELS['node-tracker'] },
    { id: 'floor', subject: 'floor', label: SUBJECT_LABELS.floor },
    {
      id: 'ours-billing',
      subject: 'ours',
      billingEvery,
      label: `nestjs-snowplow (defaults), ${fmt(100 / billingEvery, 0)} % billing events (\`trackBillingEvent\`)`,
    },
  ];
}

const ms = (v: number) => fmt(v, 1);

/**
 * Row 1b: at a steady 10,000 events/s, CPU per delivered event, requests per 10,000 events, each
 * call's latency and the event loop's delay, and each event's latency from track to 2xx; the
 * same load with 1 % billing events, ours only.
 */
export async function rateRow(ctx: BenchContext): Promise<RowResult> {
  const { perSecond, durationMs, cpuTickMs, billingEvery } = ctx.cfg.rate;
  const LINES = lines(billingEvery);
  const results = Object.fromEntries(LINES.map((l) => [l.id, [] as RateResult[]])) as Record<Line['id'], RateResult[]>;
  for (let run = 0; run < ctx.cfg.runs; run++) {
    for (const line of rotate(LINES, run)) {
      results[line.id].push(await runRate(ctx, { subject: line.subject, billingEvery: line.billingEvery }));
    }
    const at = (id: Line['id'], s: SubjectName) => fmt(cpuPerEvent(results[id][run], s), 2);
    ctx.log(
      `rate run ${run + 1}/${ctx.cfg.runs}: CPU per delivered event ours ${at('ours', 'ours')} µs, ` +
        `node-tracker ${at('node-tracker', 'node-tracker')} µs, floor ${at('floor', 'floor')} µs, ` +
        `ours with billing ${at('ours-billing', 'ours')} µs; ours ${fmt(results.ours[run].requestsPer10k, 1)} requests per 10,000 events, ` +
        `track→2xx p99 ${ms(results.ours[run].latency.customP99Ms)} ms`,
    );
  }
  const m = (id: Line['id'], pick: (r: RateResult) => number) => median(results[id].map(pick));
  /** The median of a figure over the runs, formatted with `digits` decimals. */
  const mf = (id: Line['id'], digits: number, pick: (r: RateResult) => number) => fmt(m(id, pick), digits);
  const cpu = (l: Line) => m(l.id, (r) => cpuPerEvent(r, l.subject));
  const floorLine = (l: Line) => l.subject === 'floor';
  const cpuRows = LINES.map((l) => [
    l.label,
    floorLine(l) ? `${fmt(cpu(l), 2)} (per tracked event)` : `**${fmt(cpu(l), 2)}**`,
    floorLine(l)
      ? `— / ${mf(l.id, 0, (r) => r.sent)}`
      : `${mf(l.id, 0, (r) => r.delivered)} / ${mf(l.id, 0, (r) => r.sent)}`,
    mf(l.id, 1, (r) => r.cpuPercent),
    floorLine(l) ? '—' : mf(l.id, 0, (r) => r.requestsPerSecond),
    floorLine(l) ? '—' : mf(l.id, 1, (r) => r.eventsPerRequest),
    floorLine(l) ? '—' : `**${mf(l.id, 1, (r) => r.requestsPer10k)}**`,
    floorLine(l) ? '—' : mf(l.id, 1, (r) => r.latency.requestsPer10k),
  ]);
  const latencyRows = LINES.map((l) => [
    l.label,
    mf(l.id, 0, (r) => r.achievedRate),
    mf(l.id, 0, (r) => r.callP50Ns),
    mf(l.id, 0, (r) => r.callP99Ns),
    mf(l.id, 0, (r) => r.callMaxNs / 1000),
    mf(l.id, 2, (r) => r.loopP50Ms),
    mf(l.id, 2, (r) => r.loopP99Ms),
    mf(l.id, 1, (r) => r.loopMaxMs),
  ]);
  const requestRtt = (id: Line['id']) =>
    id === 'ours' || id === 'ours-billing'
      ? `${ms(m(id, (r) => r.latency.requestP50Ms))} / ${ms(m(id, (r) => r.latency.requestP99Ms))}`
      : '—';
  const deliveryRows: string[][] = [];
  for (const l of LINES.filter((line) => !floorLine(line))) {
    const kinds: Array<'custom' | 'billing'> = l.billingEvery ? ['custom', 'billing'] : ['custom'];
    for (const kind of kinds) {
      const p = (key: 'P50Ms' | 'P99Ms' | 'MaxMs') => m(l.id, (r) => r.latency[`${kind}${key}`]);
      deliveryRows.push([
        l.billingEvery ? `${l.label}: ${kind} events` : l.label,
        fmt(m(l.id, (r) => r.latency[kind])),
        ms(p('P50Ms')),
        `**${ms(p('P99Ms'))}**`,
        ms(p('MaxMs')),
        fmt(m(l.id, (r) => r.latency.undelivered)),
        kind === 'billing'
          ? `${fmt(m(l.id, (r) => r.latency.billingRequests))} billing only, ${fmt(m(l.id, (r) => r.latency.mixedRequests))} mixed`
          : l.billingEvery
            ? `${fmt(m(l.id, (r) => r.latency.customRequests))} custom only, ${fmt(m(l.id, (r) => r.latency.mixedRequests))} mixed`
            : fmt(m(l.id, (r) => r.latency.customRequests + r.latency.mixedRequests + r.latency.billingRequests)),
        requestRtt(l.id),
      ]);
    }
  }
  const budgetOurs = median(results.ours.map((r) => budgetMs(r.emitter)));
  const rttOurs = m('ours', (r) => r.latency.requestP50Ms);
  const seconds = fmt(durationMs / 1000, 1);
  const markdown = [
    `### 1b. Steady load: ${fmt(perSecond)} events/s, delivered to the collector meanwhile (medians of ${ctx.cfg.runs})`,
    '',
    `CPU window (${seconds} s, calls due every ${cpuTickMs} ms, untimed):`,
    '',
    table(
      [
        'subject',
        'CPU µs per delivered event',
        'delivered / tracked in the window',
        'CPU % of one core',
        'requests/s to collector',
        'events/request',
        'requests per 10,000 delivered events',
        'the same, latency window (calls 1 ms apart)',
      ],
      cpuRows,
    ),
    '',
    `Latency window (${seconds} s before the CPU window, calls due every 1 ms, each timed):`,
    '',
    table(
      [
        'subject',
        'events/s',
        'call p50 ns',
        'call p99 ns',
        'call max µs',
        'loop delay p50 ms',
        'loop delay p99 ms',
        'loop delay max ms',
      ],
      latencyRows,
    ),
    '',
    'Each event of the latency window, from its track call to the library saying the collector answered 2xx:',
    '',
    table(
      [
        'subject',
        'events',
        'track → 2xx p50 ms',
        'track → 2xx p99 ms',
        'max ms',
        'not delivered',
        'requests that carried them',
        'request round trip p50 / p99 ms',
      ],
      deliveryRows,
    ),
    '',
    'CPU µs per delivered event = user+system CPU time of the tracking process over the CPU window (tracking and ' +
      'delivery) / events the collector received from it in that window; median of the per-run quotients. Requests per ' +
      "10,000 delivered events: the collector's requests / events in the same window × 10,000; beside it the same " +
      "quotient for the latency window's events (the requests the library reported carrying them), whose calls come " +
      `1 ms apart instead of ${cpuTickMs} ms (adaptive batching depends on how events arrive). The floor ` +
      `delivers nothing: its figure is per tracked event, i.e. the floor's work plus the pacing (a timer every ${cpuTickMs} ms). ` +
      'The CPU window paces coarsely because a 1 ms timer alone costs ~5 µs of CPU per event at this rate on the bench VM. ' +
      'Latency window: each call timed on its own (hrtime, which adds ~50 ns); loop delay from `monitorEventLoopDelay` ' +
      "(10 ms resolution), excess over the 10 ms interval. Track → 2xx: the track call's start (hrtime) to the moment " +
      "the library reports the event's request accepted, in the same process: ours the Emitter's `callback(successes)` " +
      "(once per send pass, so an event of an earlier request of the pass is stamped at the pass's end), node-tracker " +
      "`onRequestSuccess` (once per request); after the window the process waits for the window's last events. Request " +
      "round trip: ours' observer `requestFinished` (the request alone, from send to answer). The billing line tracks " +
      `\`trackBillingEvent({ category: 'ci', eventType: 'ci_minutes', realm: 'SaaS', unitOfMeasure: 'minute', quantity: 2 })\` ` +
      `as every ${fmt(billingEvery)}th call, custom events otherwise; its requests are counted by what they carried.`,
  ].join('\n');
  return {
    markdown,
    targets: [
      {
        target: `steady ${fmt(perSecond)} events/s: process CPU per delivered event (track + send) ≤ 8 µs (row 1b)`,
        measured:
          `${fmt(cpu(LINES[0]), 2)} µs (runs: ${results.ours.map((r) => fmt(cpuPerEvent(r, 'ours'), 2)).join(', ')}); ` +
          `node-tracker ${fmt(cpu(LINES[1]), 2)} µs; floor ${fmt(cpu(LINES[2]), 2)} µs per tracked event`,
        met: cpu(LINES[0]) <= 8,
      },
      {
        target: `steady ${fmt(perSecond)} custom events/s: collector requests per 10,000 events ≤ 20, both windows (row 1b)`,
        measured:
          `${mf('ours', 1, (r) => r.requestsPer10k)} with calls every ${cpuTickMs} ms ` +
          `(runs: ${results.ours.map((r) => fmt(r.requestsPer10k, 1)).join(', ')}), ` +
          `${mf('ours', 1, (r) => r.latency.requestsPer10k)} with calls every 1 ms; ` +
          `node-tracker ${mf('node-tracker', 1, (r) => r.requestsPer10k)}; ` +
          `with 1 % billing ${mf('ours-billing', 1, (r) => r.requestsPer10k)}`,
        met: m('ours', (r) => r.requestsPer10k) <= 20 && m('ours', (r) => r.latency.requestsPer10k) <= 20,
      },
      {
        target: `steady ${fmt(perSecond)} events/s: p99 track → 2xx ≤ the budget + one round trip (row 1b)`,
        measured:
          `${ms(m('ours', (r) => r.latency.customP99Ms))} ms (runs: ${results.ours.map((r) => ms(r.latency.customP99Ms)).join(', ')}); ` +
          `budget ${fmt(budgetOurs)} ms (${results.ours[0]?.emitter?.maxLingerMs ? '`maxLingerMs`' : '`lingerMs`, no adaptive batching'}) + round trip p50 ${ms(rttOurs)} ms; ` +
          `billing events at 1 %: p99 ${ms(m('ours-billing', (r) => r.latency.billingP99Ms))} ms`,
        met: m('ours', (r) => r.latency.customP99Ms) <= budgetOurs + rttOurs,
      },
    ],
  };
}
