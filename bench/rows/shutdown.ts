import { Child, runChild } from '../support/spawn';
import { BenchContext, rotate, RowResult } from '../support/context';
import { fmt, median, table } from '../support/stats';
import { SubjectName } from '../support/subjects';

type Variant = 'ours-nest-sigterm' | 'node-tracker' | 'node-tracker-unbounded';
const VARIANTS: Variant[] = ['ours-nest-sigterm', 'node-tracker', 'node-tracker-unbounded'];
const LABELS: Record<Variant, string> = {
  'ours-nest-sigterm': 'nestjs-snowplow: Nest app (SnowplowModule, enableShutdownHooks), SIGTERM',
  'node-tracker': '@snowplow/node-tracker (default store): `await flush()`, exit',
  'node-tracker-unbounded': '@snowplow/node-tracker (unbounded store): `await flush()`, exit',
};

interface ShutdownRun {
  delivered: number;
  /** From SIGTERM (ours) or from the flush call (node-tracker) to the process exit / flush resolving. */
  ms: number;
}

async function oursOnce(ctx: BenchContext, events: number): Promise<ShutdownRun> {
  const child = new Child('shutdown-ours.ts', { collectorPort: ctx.collector.port, events });
  try {
    await child.next('tracked');
    const started = performance.now();
    child.kill('SIGTERM');
    const exit = await child.close(60_000);
    const ms = performance.now() - started;
    // Nest's hook re-sends the signal after shutdown: ending by SIGTERM is the normal exit here.
    if (exit.signal !== 'SIGTERM' && exit.code !== 0)
      throw new Error(`shutdown-ours.ts ended with code ${exit.code}, signal ${exit.signal}`);
    const stats = await ctx.collector.waitFor(events, { quietMs: 300 });
    return { delivered: stats.unique, ms };
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
}

async function nodeTrackerOnce(ctx: BenchContext, subject: SubjectName, events: number): Promise<ShutdownRun> {
  const result = await runChild<{ type: 'result'; flushMs: number }>('shutdown-node-tracker.ts', {
    subject,
    collectorPort: ctx.collector.port,
    events,
  });
  const stats = await ctx.collector.waitFor(events, { quietMs: 300 });
  return { delivered: stats.unique, ms: result.flushMs };
}

/** Row 4: how many of N events reach the collector when the process ends right after tracking them. */
export async function shutdownRow(ctx: BenchContext): Promise<RowResult> {
  const { events } = ctx.cfg.shutdown;
  const runs: Record<string, ShutdownRun[]> = Object.fromEntries(VARIANTS.map((v) => [v, []]));
  for (let run = 0; run < ctx.cfg.runs; run++) {
    for (const variant of rotate(VARIANTS, run)) {
      await ctx.collector.reset();
      const result =
        variant === 'ours-nest-sigterm' ? await oursOnce(ctx, events) : await nodeTrackerOnce(ctx, variant, events);
      runs[variant].push(result);
      ctx.log(
        `shutdown run ${run + 1}/${ctx.cfg.runs} ${variant}: ${fmt(result.delivered)}/${fmt(events)} in ${fmt(result.ms)} ms`,
      );
    }
  }
  const rows = VARIANTS.map((v) => {
    const delivered = runs[v].map((r) => r.delivered);
    return [
      LABELS[v],
      `${fmt(median(delivered))} / ${fmt(events)}`,
      `${fmt(Math.min(...delivered))}–${fmt(Math.max(...delivered))}`,
      fmt(median(runs[v].map((r) => r.ms))),
    ];
  });
  const markdown = [
    `### 4. Shutdown: ${fmt(events)} events tracked, then the process ends (medians of ${ctx.cfg.runs})`,
    '',
    table(['subject', 'delivered, median', 'delivered, min–max', 'ms to exit / flush'], rows),
  ].join('\n');
  const worst = Math.min(...runs['ours-nest-sigterm'].map((r) => r.delivered));
  return {
    markdown,
    targets: [
      {
        target: `shutdown delivers ${fmt(events)}/${fmt(events)} (row 4)`,
        measured: `worst run ${fmt(worst)}/${fmt(events)}, median ${fmt(median(runs['ours-nest-sigterm'].map((r) => r.delivered)))}`,
        met: worst === events,
      },
    ],
  };
}
