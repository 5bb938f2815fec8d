import autocannon from 'autocannon';
import { Child } from '../support/spawn';
import { BenchContext, rotate, RowResult } from '../support/context';
import { fmt, median, spread, table } from '../support/stats';

type Route = 'plain' | 'noop' | 'tracked';
const ROUTES: Route[] = ['plain', 'noop', 'tracked'];
const LABELS: Record<Route, string> = {
  plain: '`GET /plain`: no interceptor',
  noop: '`GET /noop`: a pass-through interceptor',
  tracked: "`GET /tracked`: `@TrackEvent('bench_click', { props })`",
};

interface Load {
  rps: number;
  p50: number;
  p99: number;
  ok: number;
  bad: number;
  /** CPU time of the app process per response, µs. */
  appCpuUs: number;
  /** CPU time of the collector process per response, µs (what tracked responses cost it). */
  collectorCpuUs: number;
  /** Requests the collector received during the load. */
  collectorRequests: number;
}

/** A difference with its sign: +3.2, −1.0. */
function signed(value: number): string {
  return `${value < 0 ? '−' : '+'}${fmt(Math.abs(value), 1)}`;
}

async function appCpu(app: Child): Promise<number> {
  app.send({ type: 'cpu' });
  return (await app.next<{ type: 'cpu'; us: number }>('cpu')).us;
}

async function load(
  ctx: BenchContext,
  app: Child,
  port: number,
  route: Route,
  seconds: number,
  connections: number,
): Promise<Load> {
  const app0 = await appCpu(app);
  const collector0 = await ctx.collector.stats();
  const result = await autocannon({
    url: `http://127.0.0.1:${port}/${route}`,
    connections,
    duration: seconds,
    pipelining: 1,
  });
  const app1 = await appCpu(app);
  const collector1 = await ctx.collector.stats();
  const ok = result['2xx'];
  return {
    rps: ok / result.duration,
    p50: result.latency.p50,
    p99: result.latency.p99,
    ok,
    bad: result.non2xx + result.errors + result.timeouts,
    appCpuUs: ok > 0 ? (app1 - app0) / ok : Number.NaN,
    collectorCpuUs: ok > 0 ? (collector1.cpuUs - collector0.cpuUs) / ok : Number.NaN,
    collectorRequests: collector1.requests - collector0.requests,
  };
}

/** Row 5: a trivial endpoint at saturation with and without @TrackEvent, routes alternating per round. */
export async function interceptorRow(ctx: BenchContext): Promise<RowResult> {
  const { durationSeconds, warmupSeconds, connections } = ctx.cfg.interceptor;
  const rounds = ctx.cfg.runs;
  await ctx.collector.reset();
  const app = new Child('interceptor-app.ts', { collectorPort: ctx.collector.port });
  const runs: Record<Route, Load[]> = { plain: [], noop: [], tracked: [] };
  const trackedRatio: number[] = [];
  const noopRatio: number[] = [];
  /** App CPU µs per request, tracked minus noop (and noop minus plain), within each round. */
  const trackedOverNoopUs: number[] = [];
  const noopOverPlainUs: number[] = [];
  let trackedOk = 0;
  let bad = 0;
  let appStats: { type: 'result'; enqueued: number; sent: number; dropped: Record<string, number> };
  try {
    const { port } = await app.next<{ type: 'listening'; port: number }>('listening', 60_000);
    for (const route of ROUTES) {
      const warm = await load(ctx, app, port, route, warmupSeconds, connections);
      if (route === 'tracked') trackedOk += warm.ok;
      bad += warm.bad;
    }
    for (let round = 0; round < rounds; round++) {
      const inRound: Partial<Record<Route, Load>> = {};
      for (const route of rotate(ROUTES, round)) {
        const result = await load(ctx, app, port, route, durationSeconds, connections);
        inRound[route] = result;
        runs[route].push(result);
        if (route === 'tracked') trackedOk += result.ok;
        bad += result.bad;
      }
      trackedRatio.push(inRound.tracked!.rps / inRound.plain!.rps);
      noopRatio.push(inRound.noop!.rps / inRound.plain!.rps);
      trackedOverNoopUs.push(inRound.tracked!.appCpuUs - inRound.noop!.appCpuUs);
      noopOverPlainUs.push(inRound.noop!.appCpuUs - inRound.plain!.appCpuUs);
      ctx.log(
        `interceptor round ${round + 1}/${rounds}: plain ${fmt(inRound.plain!.rps)} req/s, noop ${fmt(inRound.noop!.rps)}, ` +
          `tracked ${fmt(inRound.tracked!.rps)}; app CPU tracked − noop ${fmt(trackedOverNoopUs[round], 1)} µs/request`,
      );
    }
    app.send({ type: 'stop' });
    appStats = await app.next<typeof appStats>('result', 60_000);
    await app.close();
  } catch (err) {
    app.kill('SIGKILL');
    throw err;
  }
  const delivered = (await ctx.collector.waitFor(trackedOk, { quietMs: 500 })).unique;

  const med = (route: Route, key: keyof Load) => median(runs[route].map((r) => r[key]));
  const rows = ROUTES.map((route) => [
    LABELS[route],
    spread(runs[route].map((r) => r.rps)),
    route === 'plain' ? '—' : `${fmt((median(route === 'noop' ? noopRatio : trackedRatio) - 1) * 100, 1)} %`,
    fmt(med(route, 'p50'), 1),
    fmt(med(route, 'p99'), 1),
    fmt(med(route, 'appCpuUs'), 1),
    fmt(med(route, 'collectorCpuUs'), 1),
    route === 'tracked' ? fmt(median(runs.tracked.map((r) => r.ok / Math.max(1, r.collectorRequests))), 1) : '—',
  ]);
  const overNoop = median(trackedOverNoopUs);
  const markdown = [
    `### 5. @TrackEvent interceptor: Nest 12 + Express, autocannon ${connections} connections, ${rounds} rounds × ${durationSeconds} s per route, routes alternating`,
    '',
    table(
      [
        'endpoint',
        'req/s, median (min–max)',
        'req/s vs plain (median of per-round ratios)',
        'latency p50 ms',
        'latency p99 ms',
        'app CPU µs/request',
        'collector CPU µs/request',
        'events per collector request',
      ],
      rows,
    ),
    '',
    `Events: ${fmt(trackedOk)} tracked responses (warm-up included), ${fmt(appStats.enqueued)} enqueued, ${fmt(appStats.sent)} sent, ` +
      `${fmt(delivered)} at the collector; dropped ${JSON.stringify(appStats.dropped)}; failed requests ${fmt(bad)}. ` +
      'autocannon runs in the bench process on the same 2 cores as the app and the collector, so req/s also drops by what the ' +
      'collector takes; app CPU µs/request is the steadier figure.',
    '',
    `App CPU per request, within each round: \`@TrackEvent\` over the pass-through interceptor median **${signed(overNoop)} µs** ` +
      `(rounds: ${trackedOverNoopUs.map((d) => signed(d)).join(', ')}); the pass-through interceptor over no interceptor ` +
      `${signed(median(noopOverPlainUs))} µs.`,
  ].join('\n');
  return {
    markdown,
    targets: [
      {
        target: '`@TrackEvent` route: app CPU per request over a pass-through interceptor ≤ +8 µs (row 5)',
        measured:
          `${signed(overNoop)} µs/request (tracked ${fmt(med('tracked', 'appCpuUs'), 1)}, noop ${fmt(med('noop', 'appCpuUs'), 1)}); ` +
          `req/s vs plain: tracked ${signed((median(trackedRatio) - 1) * 100)} %, noop ${signed((median(noopRatio) - 1) * 100)} %`,
        met: overNoop <= 8,
      },
    ],
  };
}
