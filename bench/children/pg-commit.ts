/**
 * P1 of bench/postgres.ts: custom events committed per second into a durable store, outside any
 * transaction. `chunk` events are tracked per event-loop tick, and the figure counts rows
 * committed, not calls returned: the clock stops when the last `committed` promise resolves. The
 * PostgreSQL store's write-behind buffer is bounded (`maxBufferedEvents`, default 10,000), so the
 * loop keeps at most that many uncommitted (it awaits the oldest commit first), as an app that
 * respects the bound must. With `relay`, the emitter's send loop delivers to the bench collector
 * meanwhile. The SQLite store commits each tick's events when the tick ends; its file is kept
 * (`sqlitePath`) for the SQLite relay of P4.
 */
import { setImmediate as nextTick } from 'node:timers/promises';
import { Emitter, Tracker } from 'nestjs-snowplow/core';
import type { CommitOutcome } from 'nestjs-snowplow/core';
import { main, params, report } from '../support/child';
import { cpuNow, diffStats, PgTarget, silentLogger, timedPool } from '../support/pg';
import { APP_ID, EVENT_NAME, EVENT_PROPS } from '../support/subjects';

interface Params extends PgTarget {
  store: 'postgres' | 'sqlite';
  sqlitePath: string;
  events: number;
  chunk: number;
  warmup: number;
  /** The send loop runs (to the collector at `endpoint`); otherwise `endpoint` is a dead port. */
  relay: boolean;
  endpoint: string;
}

/** The store's default bound on uncommitted events (PostgresStorageOptions.maxBufferedEvents). */
const MAX_BUFFERED = 10_000;

main(async () => {
  const p = params<Params>();
  const total = p.events + p.warmup;
  const timed = p.store === 'postgres' ? await timedPool(p.url) : undefined;
  const emitter = new Emitter({
    collectorUrl: p.endpoint,
    storage: timed
      ? { type: 'postgres', pool: timed.store, schema: p.schema, table: p.table, capacity: total }
      : { type: 'sqlite', path: p.sqlitePath, capacity: total },
    capacity: total,
    logger: silentLogger,
  });
  if (p.relay) emitter.start();
  const tracker = new Tracker({ appId: APP_ID, emitter });
  const props = EVENT_PROPS as Record<string, unknown>;

  // Commit promises, oldest first, with how many events each covers (events of one flush share one).
  const pending: Array<{ committed: Promise<CommitOutcome>; events: number }> = [];
  let uncommitted = 0;
  let notDurable = 0;
  const settle = async () => {
    const oldest = pending.shift();
    if (!oldest) return;
    const outcome = await oldest.committed;
    if (!outcome.durable) notDurable += oldest.events;
    uncommitted -= oldest.events;
  };
  const trackChunk = (n: number) => {
    for (let i = 0; i < n; i++) {
      const { committed } = tracker.trackEvent(EVENT_NAME, props);
      const last = pending[pending.length - 1];
      if (last?.committed === committed) last.events++;
      else pending.push({ committed, events: 1 });
      uncommitted++;
    }
  };
  const run = async (events: number) => {
    for (let done = 0; done < events; done += p.chunk) {
      const n = Math.min(p.chunk, events - done);
      while (uncommitted + n > MAX_BUFFERED) await settle();
      trackChunk(n);
      await nextTick();
    }
    while (pending.length > 0) await settle();
  };

  await run(p.warmup);
  const statsBefore = structuredClone(timed?.stats ?? {});
  const cpuBefore = cpuNow();
  const started = performance.now();
  await run(p.events);
  const ms = performance.now() - started;
  const cpuUs = cpuNow() - cpuBefore;
  const statements = diffStats(timed?.stats ?? {}, statsBefore);
  let held = -1;
  if (timed && !p.relay) {
    const { rows } = await timed.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM "${p.schema}"."${p.table}"`);
    held = rows[0].n;
  } else if (!p.relay) {
    held = emitter.queueDepth;
  }
  // With the relay: everything goes to the collector before the store closes (not timed).
  const drained = p.relay ? (await emitter.drain(300_000)).drained : true;
  const sent = emitter.stats().sent;
  await emitter.stop();
  await timed?.pool.end();
  await report({
    type: 'result',
    committedPerSecond: (p.events / ms) * 1000,
    ms,
    cpuUsPerEvent: cpuUs / p.events,
    notDurable,
    held,
    expectedHeld: total,
    sent,
    drained,
    statements,
  });
});
