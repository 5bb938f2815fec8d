import autocannon from 'autocannon';
import { Child } from '../support/spawn';
import { BenchContext, rotate, RowResult } from '../support/context';
import { fmt, median, spread, table } from '../support/stats';

/** A route of one of the two apps: request context off (`correlationIdHeaders: []`) or on (defaults). */
type Route = 'plain' | 'noop' | 'skipped' | 'tracked' | 'ctxPlain' | 'ctxTracked';
const ROUTES: Route[] = ['plain', 'noop', 'skipped', 'tracked', 'ctxPlain', 'ctxTracked'];
const PATHS: Record<Route, { context: boolean; path: string }> = {
  plain: { context: false, path: 'plain' },
  noop: { context: false, path: 'noop' },
  skipped: { context: false, path: 'skipped' },
  tracked: { context: false, path: 'tracked' },
  ctxPlain: { context: true, path: 'plain' },
  ctxTracked: { context: true, path: 'tracked' },
};
const LABELS: Record<Route, string> = {
  plain: '`GET /plain`, context off: no interceptor',
  noop: '`GET /noop`, context off: a pass-through interceptor',
  skipped: "`GET /skipped`, context off: `@TrackEvent('bench_click', { on: 'error', props })`, no event",
  tracked: "`GET /tracked`, context off: `@TrackEvent('bench_click', { props })`",
  ctxPlain: '`GET /plain`, context on (defaults): the request context only',
  ctxTracked: "`GET /tracked`, context on (defaults): `@TrackEvent('bench_click', { props })`",
};
const TRACKED: readonly Route[] = ['tracked', 'ctxTracked'];

/** The per-request differences of app CPU reported, each within a round: [label, route, minus route]. */
const SPLIT: Array<[string, Route, Route]> = [
  ['a pass-through interceptor, over none', 'noop', 'plain'],
  ["`@TrackEvent`'s own interceptor (no event), over a pass-through", 'skipped', 'noop'],
  ['the request context (defaults), over a pass-through', 'ctxPlain', 'noop'],
  ['`@TrackEvent` with its event (track call, delivery), over a pass-through', 'tracked', 'noop'],
  ['`@TrackEvent` with its event, context on, over the context alone', 'ctxTracked', 'ctxPlain'],
];

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
  path: string,
  seconds: number,
  connections: number,
): Promise<Load> {
  const app0 = await appCpu(app);
  const collector0 = await ctx.collector.stats();
  const result = await autocannon({
    url: `http://127.0.0.1:${port}/${path}`,
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

/** Row 5: trivial endpoints at saturation, request context off and on, routes alternating per round. */
export async function interceptorRow(ctx: BenchContext): Promise<RowResult> {
  const { durationSeconds, warmupSeconds, connections } = ctx.cfg.interceptor;
  const rounds = ctx.cfg.runs;
  await ctx.collector.reset();
  const apps = {
    off: new Child('interceptor-app.ts', { collectorPort: ctx.collector.port, context: false }),
    on: new Child('interceptor-app.ts', { collectorPort: ctx.collector.port, context: true }),
  };
  const appOf = (route: Route) => (PATHS[route].context ? apps.on : apps.off);
  const runs = Object.fromEntries(ROUTES.map((r) => [r, [] as Load[]])) as Record<Route, Load[]>;
  const ratio = Object.fromEntries(ROUTES.map((r) => [r, [] as number[]])) as Record<Route, number[]>;
  /** App CPU µs per request, per SPLIT line, within each round. */
  const split: number[][] = SPLIT.map(() => []);
  let trackedOk = 0;
  let bad = 0;
  type AppStats = { type: 'result'; enqueued: number; sent: number; dropped: Record<string, number> };
  const appStats: AppStats[] = [];
  try {
    const ports = {
      off: (await apps.off.next<{ type: 'listening'; port: number }>('listening', 60_000)).port,
      on: (await apps.on.next<{ type: 'listening'; port: number }>('listening', 60_000)).port,
    };
    const portOf = (route: Route) => (PATHS[route].context ? ports.on : ports.off);
    const loadRoute = (route: Route, seconds: number) =>
      load(ctx, appOf(route), portOf(route), PATHS[route].path, seconds, connections);
    for (const route of ROUTES) {
      const warm = await loadRoute(route, warmupSeconds);
      if (TRACKED.includes(route)) trackedOk += warm.ok;
      bad += warm.bad;
    }
    for (let round = 0; round < rounds; round++) {
      const inRound: Partial<Record<Route, Load>> = {};
      for (const route of rotate(ROUTES, round)) {
        const result = await loadRoute(route, durationSeconds);
        inRound[route] = result;
        runs[route].push(result);
        if (TRACKED.includes(route)) trackedOk += result.ok;
        bad += result.bad;
      }
      for (const route of ROUTES) ratio[route].push(inRound[route]!.rps / inRound.plain!.rps);
      SPLIT.forEach(([, a, b], i) => split[i].push(inRound[a]!.appCpuUs - inRound[b]!.appCpuUs));
      ctx.log(
        `interceptor round ${round + 1}/${rounds}: ` +
          ROUTES.map((r) => `${r} ${fmt(inRound[r]!.rps)} req/s ${fmt(inRound[r]!.appCpuUs, 1)} µs`).join(', '),
      );
    }
    for (const app of [apps.off, apps.on]) {
      app.send({ type: 'stop' });
      appStats.push(await app.next<AppStats>('result', 60_000));
      await app.close();
    }
  } catch (err) {
    apps.off.kill('SIGKILL');
    apps.on.kill('SIGKILL');
    throw err;
  }
  const delivered = (await ctx.collector.waitFor(trackedOk, { quietMs: 500 })).unique;
  const sum = (key: 'enqueued' | 'sent') => appStats.reduce((a, s) => a + s[key], 0);

  const med = (route: Route, key: keyof Load) => median(runs[route].map((r) => r[key]));
  const rows = ROUTES.map((route) => [
    LABELS[route],
    spread(runs[route].map((r) => r.rps)),
    route === 'plain' ? '—' : `${fmt((median(ratio[route]) - 1) * 100, 1)} %`,
    fmt(med(route, 'p50'), 1),
    fmt(med(route, 'p99'), 1),
    fmt(med(route, 'appCpuUs'), 1),
    TRACKED.includes(route) ? fmt(med(route, 'collectorCpuUs'), 1) : '—',
    TRACKED.includes(route) ? fmt(median(runs[route].map((r) => r.ok / Math.max(1, r.collectorRequests))), 1) : '—',
  ]);
  const own = median(split[1]);
  const context = median(split[2]);
  const markdown = [
    `### 5. @TrackEvent interceptor: Nest 12 + Express, autocannon ${connections} connections, ${rounds} rounds × ${durationSeconds} s per route, routes alternating`,
    '',
    table(
      [
        'endpoint',
        'req/s, median (min–max)',
        'req/s vs plain, context off (median of per-round ratios)',
        'latency p50 ms',
        'latency p99 ms',
        'app CPU µs/request',
        'collector CPU µs/request',
        'events per collector request',
      ],
      rows,
    ),
    '',
    `Events: ${fmt(trackedOk)} tracked responses (warm-up included), ${fmt(sum('enqueued'))} enqueued, ${fmt(sum('sent'))} sent, ` +
      `${fmt(delivered)} at the collector; dropped ${appStats.map((s) => JSON.stringify(s.dropped)).join(' / ')}; failed requests ${fmt(bad)}. ` +
      'Two apps: request context off (`correlationIdHeaders: []`) and on (default options); each route is loaded on its own. ' +
      'autocannon runs in the bench process on the same 2 cores as the apps and the collector, so req/s also drops by what the ' +
      'collector takes; app CPU µs/request is the steadier figure.',
    '',
    'App CPU per request, differences within each round (median; rounds):',
    '',
    table(
      ['part', 'µs per request', 'routes', 'rounds'],
      SPLIT.map(([what, a, b], i) => [
        what,
        `**${signed(median(split[i]))}**`,
        `${a} − ${b}`,
        split[i].map((d) => signed(d)).join(', '),
      ]),
    ),
  ].join('\n');
  return {
    markdown,
    targets: [
      {
        target: "`@TrackEvent`'s own interceptor: app CPU per request over a pass-through interceptor ≤ +8 µs (row 5)",
        measured:
          `${signed(own)} µs/request (skipped ${fmt(med('skipped', 'appCpuUs'), 1)}, noop ${fmt(med('noop', 'appCpuUs'), 1)}); ` +
          `with its event ${signed(median(split[3]))} µs; the request context over a pass-through ${signed(context)} µs`,
        met: own <= 8,
      },
    ],
  };
}
