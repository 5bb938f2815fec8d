import { BenchContext, rotate, RowResult } from '../support/context';
import { budgetMs, cpuPerEvent, RateResult, runRate } from '../support/rate';
import { fmt, median, table } from '../support/stats';

type Budget = number | 'default';

/** The row's requests target, per 10,000 custom events (issue 27). */
const REQUESTS_TARGET = 20;

interface Point {
  budget: Budget;
  runs: RateResult[];
  errors: string[];
}

const ms = (v: number) => fmt(v, 1);

function optionsFor(budget: Budget): Record<string, unknown> {
  return budget === 'default' ? {} : { maxLingerMs: budget };
}

function label(point: Point): string {
  const emitter = point.runs[0]?.emitter;
  // A build without the option ignores it (the emitter does not refuse unknown options).
  const ignored = emitter && emitter.maxLingerMs === null ? ' (not in this build: ignored)' : '';
  if (point.budget === 'default') {
    const known = emitter?.maxLingerMs;
    return known === undefined || known === null ? `default${ignored}` : `default (${fmt(known)})`;
  }
  return (point.budget === 0 ? '0 (off)' : fmt(point.budget)) + ignored;
}

/**
 * Row 11: adaptive batching's curve. Row 1b's load (ours, custom events only, 10,000/s) once per
 * `maxLingerMs`: requests per 10,000 events, CPU per delivered event, track → 2xx latency, events
 * per request. The default of `maxLingerMs` is chosen from it (bench/README.md gives the rule).
 */
export async function lingerRow(ctx: BenchContext): Promise<RowResult> {
  const { perSecond, durationMs, cpuTickMs } = ctx.cfg.rate;
  const points: Point[] = ctx.cfg.linger.budgets.map((budget) => ({ budget, runs: [], errors: [] }));
  for (let run = 0; run < ctx.cfg.runs; run++) {
    for (const point of rotate(points, run)) {
      try {
        const result = await runRate(ctx, { subject: 'ours', emitterOptions: optionsFor(point.budget) });
        point.runs.push(result);
        ctx.log(
          `linger run ${run + 1}/${ctx.cfg.runs}, maxLingerMs ${label(point)}: ${fmt(result.requestsPer10k, 1)} requests per 10,000, ` +
            `${fmt(cpuPerEvent(result, 'ours'), 2)} µs/event, track→2xx p99 ${ms(result.latency.customP99Ms)} ms`,
        );
      } catch (err) {
        const message = (err instanceof Error ? err.message : String(err)).split('\n')[0];
        point.errors.push(message);
        ctx.log(`linger run ${run + 1}/${ctx.cfg.runs}, maxLingerMs ${label(point)}: failed: ${message}`);
      }
    }
  }
  const m = (p: Point, pick: (r: RateResult) => number) => median(p.runs.map(pick));
  /** The median of a figure over the runs, formatted with `digits` decimals. */
  const mf = (p: Point, digits: number, pick: (r: RateResult) => number) => fmt(m(p, pick), digits);
  const summary = points.map((p) => {
    const budget = m(p, (r) => budgetMs(r.emitter));
    const rtt = m(p, (r) => r.latency.requestP50Ms);
    const p99 = m(p, (r) => r.latency.customP99Ms);
    const requests = m(p, (r) => r.requestsPer10k);
    const requestsSmooth = m(p, (r) => r.latency.requestsPer10k);
    return {
      p,
      budget,
      rtt,
      p99,
      requests,
      requestsSmooth,
      measured: p.runs.length > 0,
      meetsRequests: requests <= REQUESTS_TARGET && requestsSmooth <= REQUESTS_TARGET,
      meetsLatency: p99 <= budget + rtt,
    };
  });
  const rows = summary.map((s) =>
    !s.measured
      ? [label(s.p), `**not measured**: ${s.p.errors[0] ?? 'no run'}`, ...Array<string>(11).fill('')]
      : [
          label(s.p),
          fmt(s.budget),
          `**${fmt(s.requests, 1)}**`,
          `**${fmt(s.requestsSmooth, 1)}**`,
          mf(s.p, 1, (r) => r.eventsPerRequest),
          mf(s.p, 2, (r) => cpuPerEvent(r, 'ours')),
          ms(m(s.p, (r) => r.latency.customP50Ms)),
          `**${ms(s.p99)}**`,
          ms(s.p99 - s.budget),
          ms(m(s.p, (r) => r.latency.customMaxMs)),
          `${ms(s.rtt)} / ${ms(m(s.p, (r) => r.latency.requestP99Ms))}`,
          s.meetsLatency ? 'yes' : '**no**',
          mf(s.p, 0, (r) => r.latency.undelivered),
        ],
  );
  // The rule: the smallest budget that meets both (bench/README.md, row 11).
  const chosen = summary
    .filter((s) => s.measured && s.p.budget !== 'default' && s.meetsRequests && s.meetsLatency)
    .sort((a, b) => a.budget - b.budget)[0];
  const markdown = [
    `### 11. Adaptive batching curve: ${fmt(perSecond)} custom events/s against \`maxLingerMs\` (ours; medians of ${ctx.cfg.runs})`,
    '',
    table(
      [
        '`maxLingerMs`',
        'budget ms (wait before a batch leaves)',
        `requests per 10,000 delivered events, CPU window (calls every ${cpuTickMs} ms)`,
        'the same, latency window (calls every 1 ms)',
        'events/request (CPU window)',
        'CPU µs per delivered event',
        'track → 2xx p50 ms',
        'track → 2xx p99 ms',
        'p99 over the budget ms',
        'max ms',
        'request round trip p50 / p99 ms',
        'p99 ≤ budget + round trip (p50)',
        'not delivered',
      ],
      rows,
    ),
    '',
    chosen
      ? `The rule (smallest budget with ≤ ${REQUESTS_TARGET} requests per 10,000 events in both windows and p99 track → 2xx ≤ budget + one round trip) picks **${fmt(chosen.budget)} ms** in this run.`
      : `No budget of this run meets both ≤ ${REQUESTS_TARGET} requests per 10,000 events in both windows and p99 track → 2xx ≤ budget + one round trip.`,
    '',
    `Each cell: a fresh process at row 1b's load (the same child: a ${fmt(durationMs / 1000, 1)} s latency window with every ` +
      "event's track → 2xx, then a CPU window of the same length), ours with `maxLingerMs` as given and every other option " +
      'at its default (`BENCH_EMITTER_OPTIONS` applies too). Budget: `maxLingerMs`, or `lingerMs` when it is 0 (off). ' +
      "Round trip: the observer's `requestFinished` duration of the same run's requests. Requests per 10,000 and CPU " +
      `from the CPU window (the collector's counts; calls every ${cpuTickMs} ms, i.e. ${fmt((perSecond * cpuTickMs) / 1000)} events at once); ` +
      "requests per 10,000 also for the latency window's events (calls every 1 ms; the requests the library reported " +
      'carrying them); latency from the latency window.',
  ].join('\n');
  return {
    markdown,
    targets: [
      {
        target: `adaptive batching curve: a \`maxLingerMs\` with ≤ ${REQUESTS_TARGET} requests per 10,000 events in both windows and p99 track → 2xx ≤ budget + one round trip (row 11)`,
        measured: chosen
          ? `smallest such budget: ${fmt(chosen.budget)} ms (${fmt(chosen.requests, 1)} / ${fmt(chosen.requestsSmooth, 1)} requests per 10,000, p99 ${ms(chosen.p99)} ms, round trip ${ms(chosen.rtt)} ms)`
          : `none of ${summary.map((s) => label(s.p)).join(', ')}`,
        met: chosen !== undefined,
      },
    ],
  };
}
