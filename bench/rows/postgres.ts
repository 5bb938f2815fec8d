/**
 * The rows of `npm run bench:postgres` (bench/postgres.ts): the PostgreSQL outbox (issue 25), with
 * the SQLite store's rows beside them. Every row checks its events: a missing one is counted in
 * `ctx.missing`, and the script then exits non-zero.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import type { StatementStats, StatementTimes, PgTarget } from '../support/pg';
import { wallNow } from '../support/pg';
import type { CollectorStats } from '../support/collector-client';
import { BenchContext, rotate, RowResult } from '../support/context';
import { Child, runChild } from '../support/spawn';
import { fmt, median, table } from '../support/stats';
import { emitterOptionsFromEnv } from '../support/subjects';

export interface PgBenchContext extends BenchContext {
  pg: PgTarget;
  /** Where SQLite files go (removed at the end). */
  tmpDir: string;
  /** Events that did not arrive or were not committed, with what was missing where. */
  missing: { count: number; notes: string[] };
}

function miss(ctx: PgBenchContext, count: number, note: string): void {
  if (count <= 0) return;
  ctx.missing.count += count;
  ctx.missing.notes.push(note);
  ctx.log(`MISSING: ${note}`);
}

async function admin<T extends { type: string }>(ctx: PgBenchContext, op: string, extra: object = {}): Promise<T> {
  return runChild<T>('pg-admin.ts', { ...ctx.pg, op, ...extra });
}

export function truncate(ctx: PgBenchContext): Promise<unknown> {
  return admin(ctx, 'truncate');
}

function range(values: readonly number[], digits = 0): string {
  if (values.length <= 1) return fmt(values[0] ?? Number.NaN, digits);
  return `${fmt(Math.min(...values), digits)}–${fmt(Math.max(...values), digits)}`;
}

function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

function sumStats(all: readonly StatementStats[]): StatementStats {
  const out: StatementStats = {};
  for (const stats of all)
    for (const [kind, t] of Object.entries(stats) as Array<[keyof StatementStats, StatementTimes]>) {
      const o = (out[kind] ??= { count: 0, ms: 0, rows: 0 });
      o.count += t.count;
      o.ms += t.ms;
      o.rows += t.rows;
      o.peak = Math.max(o.peak ?? 0, t.peak ?? 0);
    }
  return out;
}

/** `lease 103 × 4.1 ms (971 rows each, up to 4 at once)`: what the store's statements cost, from the relay's side. */
function describeStatements(stats: StatementStats, kinds: ReadonlyArray<keyof StatementStats>): string {
  return kinds
    .filter((k) => stats[k]?.count)
    .map((k) => {
      const t = stats[k] as StatementTimes;
      return (
        `${k} ${fmt(t.count)} × ${fmt(t.ms / t.count, 2)} ms (${fmt(t.rows / t.count, t.rows < t.count ? 2 : 0)} rows each` +
        `${t.peak ? `, up to ${t.peak} at once` : ''})`
      );
    })
    .join('; ');
}

// ---------------------------------------------------------------------------------------------
// P1: committed per second, outside a transaction

type CommitVariant = 'pg' | 'pg-relay' | 'sqlite' | 'sqlite-relay';
const COMMIT_LABELS: Record<CommitVariant, string> = {
  pg: 'PostgreSQL store, send loop not started',
  'pg-relay': 'PostgreSQL store, its relay sending to the collector meanwhile',
  sqlite: 'SQLite store, send loop not started',
  'sqlite-relay': 'SQLite store, its send loop sending to the collector meanwhile',
};

interface CommitResult {
  type: 'result';
  committedPerSecond: number;
  ms: number;
  cpuUsPerEvent: number;
  notDurable: number;
  held: number;
  expectedHeld: number;
  sent: number;
  drained: boolean;
  statements: StatementStats;
}

export async function committedRow(ctx: PgBenchContext): Promise<RowResult> {
  const { events, chunk, warmup } = ctx.cfg.postgres.commit;
  const variants: CommitVariant[] = ['pg', 'pg-relay', 'sqlite', 'sqlite-relay'];
  const results: Record<CommitVariant, CommitResult[]> = { pg: [], 'pg-relay': [], sqlite: [], 'sqlite-relay': [] };
  for (let run = 0; run < ctx.cfg.runs; run++) {
    for (const v of rotate(variants, run)) {
      const relay = v.endsWith('-relay');
      const store = v.startsWith('pg') ? 'postgres' : 'sqlite';
      const sqlitePath = join(ctx.tmpDir, `commit-${run}-${v}.db`);
      if (store === 'postgres') await truncate(ctx);
      await ctx.collector.reset();
      const r = await runChild<CommitResult>('pg-commit.ts', {
        ...ctx.pg,
        store,
        sqlitePath,
        events,
        chunk,
        warmup,
        relay,
        endpoint: relay
          ? ctx.collector.endpoint
          : `http://127.0.0.1:${ctx.deadPort}/com.snowplowanalytics.snowplow/tp2`,
      });
      rmSync(sqlitePath, { force: true });
      rmSync(`${sqlitePath}-wal`, { force: true });
      rmSync(`${sqlitePath}-shm`, { force: true });
      results[v].push(r);
      miss(ctx, r.notDurable, `P1 ${v} run ${run + 1}: ${r.notDurable} events not durable`);
      if (relay) {
        const stats = await ctx.collector.stats();
        miss(
          ctx,
          r.expectedHeld - stats.unique,
          `P1 ${v} run ${run + 1}: ${fmt(stats.unique)} of ${fmt(r.expectedHeld)} at the collector (drained: ${r.drained})`,
        );
      } else {
        miss(
          ctx,
          r.expectedHeld - r.held,
          `P1 ${v} run ${run + 1}: ${fmt(r.held)} of ${fmt(r.expectedHeld)} in the store`,
        );
      }
      ctx.log(
        `P1 run ${run + 1}/${ctx.cfg.runs} ${v}: ${fmt(r.committedPerSecond)} committed/s, ${fmt(r.cpuUsPerEvent, 1)} CPU µs/event` +
          (store === 'postgres' ? `; ${describeStatements(r.statements, ['insert', 'lease', 'ack'])}` : ''),
      );
    }
  }
  const rate = (v: CommitVariant) => median(results[v].map((r) => r.committedPerSecond));
  const rows = variants.map((v) => {
    const rs = results[v];
    const st = sumStats(rs.map((r) => r.statements));
    return [
      COMMIT_LABELS[v],
      `**${fmt(rate(v))}**`,
      range(rs.map((r) => r.committedPerSecond)),
      fmt(median(rs.map((r) => r.cpuUsPerEvent)), 1),
      v.startsWith('pg') ? describeStatements(st, ['insert']).replace(/^insert /, '') || '—' : '—',
    ];
  });
  const markdown = [
    `### P1. Committed per second, outside a transaction: ${fmt(events)} custom events, ${fmt(chunk)} per event-loop tick (medians of ${ctx.cfg.runs})`,
    '',
    table(
      [
        'store',
        'events committed/s',
        'min–max',
        'app CPU µs per event',
        'INSERTs (all runs: count × mean wall ms, rows each)',
      ],
      rows,
    ),
    '',
    'Committed = every `committed` promise resolved (the clock stops at the last), not calls returned. The PostgreSQL ' +
      'store writes its write-behind buffer with one multi-row INSERT per flush; the loop keeps at most 10,000 events ' +
      'uncommitted (the store’s default `maxBufferedEvents`), awaiting the oldest commit first. Rows checked after each ' +
      'run: all in the table (send loop not started), or all at the collector (relay running).',
  ].join('\n');
  return {
    markdown,
    targets: [
      {
        target: 'PostgreSQL: ≥ 50,000 events/s committed outside a transaction (P1, relay running)',
        measured: `${fmt(rate('pg-relay'))}/s (send loop not started: ${fmt(rate('pg'))}/s; SQLite ${fmt(rate('sqlite-relay'))}/s, ${fmt(rate('sqlite'))}/s)`,
        met: rate('pg-relay') >= 50_000,
      },
    ],
  };
}

// ---------------------------------------------------------------------------------------------
// P2: what a billing event adds to a user's transaction

interface TxBlock {
  billed: boolean;
  usPerTx: number;
  cpuUsPerTx: number;
  usPerBillingStatement: number;
  usPerCommit: number;
}

export async function transactionRow(ctx: PgBenchContext): Promise<RowResult> {
  const { perBlock, blocks, warmup } = ctx.cfg.postgres.transaction;
  const perRun: Array<{
    plain: number;
    billed: number;
    cpuPlain: number;
    cpuBilled: number;
    statement: number;
    commitPlain: number;
    commitBilled: number;
  }> = [];
  let statementsPerEvent = Number.NaN;
  for (let run = 0; run < ctx.cfg.runs; run++) {
    await truncate(ctx);
    const r = await runChild<{
      type: 'result';
      blocks: TxBlock[];
      outboxRows: number;
      billedRows: number;
      billingStatements: number;
    }>('pg-transaction.ts', {
      ...ctx.pg,
      perBlock,
      blocks,
      warmup,
      deadEndpoint: `http://127.0.0.1:${ctx.deadPort}/com.snowplowanalytics.snowplow/tp2`,
    });
    miss(
      ctx,
      r.billedRows - r.outboxRows,
      `P2 run ${run + 1}: ${r.outboxRows} of ${r.billedRows} billing rows in the outbox`,
    );
    statementsPerEvent = r.billingStatements / r.billedRows;
    const of = (billed: boolean, key: 'usPerTx' | 'cpuUsPerTx' | 'usPerBillingStatement' | 'usPerCommit') =>
      median(r.blocks.filter((b) => b.billed === billed).map((b) => b[key]));
    const m = {
      plain: of(false, 'usPerTx'),
      billed: of(true, 'usPerTx'),
      cpuPlain: of(false, 'cpuUsPerTx'),
      cpuBilled: of(true, 'cpuUsPerTx'),
      statement: of(true, 'usPerBillingStatement'),
      commitPlain: of(false, 'usPerCommit'),
      commitBilled: of(true, 'usPerCommit'),
    };
    perRun.push(m);
    ctx.log(
      `P2 run ${run + 1}/${ctx.cfg.runs}: plain ${fmt(m.plain, 1)} µs, billed ${fmt(m.billed, 1)} µs per transaction ` +
        `(+${fmt(m.billed - m.plain, 1)}); billing statement ${fmt(m.statement, 1)} µs`,
    );
  }
  const med = (f: (m: (typeof perRun)[number]) => number) => median(perRun.map(f));
  const added = med((m) => m.billed - m.plain);
  const markdown = [
    `### P2. What a billing event adds to a user's transaction (one \`pg\` client; ${fmt(blocks)} blocks of ${fmt(perBlock)} transactions per variant, alternating; medians of ${ctx.cfg.runs})`,
    '',
    table(
      ['transaction', 'wall µs per transaction', 'app CPU µs per transaction'],
      [
        [
          '`BEGIN; INSERT INTO charges …; COMMIT`',
          fmt(
            med((m) => m.plain),
            1,
          ),
          fmt(
            med((m) => m.cpuPlain),
            1,
          ),
        ],
        [
          'the same + `await tracker.inTransaction(client).trackBillingEvent(…)`',
          fmt(
            med((m) => m.billed),
            1,
          ),
          fmt(
            med((m) => m.cpuBilled),
            1,
          ),
        ],
        [
          '**added by the billing event** (median of per-run differences)',
          `**+${fmt(added, 1)}** (runs: ${perRun.map((m) => fmt(m.billed - m.plain, 1)).join(', ')})`,
          `+${fmt(
            med((m) => m.cpuBilled - m.cpuPlain),
            1,
          )}`,
        ],
        [
          'of which the billing statement itself (its round trip, in the transaction)',
          fmt(
            med((m) => m.statement),
            1,
          ),
          '—',
        ],
        [
          'the COMMIT alone: plain → billed (the NOTIFY, the outbox row’s WAL)',
          `${fmt(
            med((m) => m.commitPlain),
            1,
          )} → ${fmt(
            med((m) => m.commitBilled),
            1,
          )}`,
          '—',
        ],
      ],
    ),
    '',
    `Statements the billing call sent through the transaction, per event: ${fmt(statementsPerEvent, 2)}. ` +
      'One statement: the outbox INSERT (`unnest` of one row, the custom-lane bound, `ON CONFLICT (eid) DO NOTHING`); ' +
      'its statement trigger queues a NOTIFY, sent at COMMIT. The rest of the difference is at COMMIT (the NOTIFY, the ' +
      'extra WAL). The store’s send loop is not started; every billing row is checked in the outbox afterwards.',
  ].join('\n');
  return {
    markdown,
    targets: [
      {
        target: 'billing event in a user transaction: µs per event, one statement (reported, P2)',
        measured: `+${fmt(added, 1)} µs per transaction (the statement's round trip ${fmt(
          med((m) => m.statement),
          1,
        )} µs)`,
        met: true,
      },
    ],
  };
}

// ---------------------------------------------------------------------------------------------
// Relays (P3, P4)

interface RelayResult {
  type: 'result';
  sent: number;
  dropped: Record<string, number>;
  cpuUs: number;
  statements: StatementStats;
}

async function startRelays(
  ctx: PgBenchContext,
  count: number,
  store: 'postgres' | 'sqlite',
  sqlitePath: string,
  emitterOptions: Record<string, unknown> = {},
): Promise<Child[]> {
  const relays = Array.from(
    { length: count },
    () =>
      new Child('pg-relay.ts', {
        ...ctx.pg,
        store,
        sqlitePath,
        endpoint: ctx.collector.endpoint,
        emitterOptions,
      }),
  );
  try {
    await Promise.all(relays.map((r) => r.next('ready', 60_000)));
  } catch (err) {
    for (const r of relays) r.kill('SIGKILL');
    throw err;
  }
  return relays;
}

async function stopRelays(relays: Child[]): Promise<RelayResult[]> {
  for (const r of relays) r.send({ type: 'stop' });
  const results = await Promise.all(relays.map((r) => r.next<RelayResult>('result', 120_000)));
  await Promise.all(relays.map((r) => r.close()));
  return results;
}

// ---------------------------------------------------------------------------------------------
// P3: commit to the collector's 2xx, one event at a time, one idle relay

const LATENCY_CONFIGS: Array<{ id: string; label: string; options: Record<string, unknown> }> = [
  { id: 'default', label: 'relay with default options (`lingerMs` 20)', options: {} },
  { id: 'linger0', label: 'relay with `lingerMs: 0`', options: { lingerMs: 0 } },
];

interface LatencyResult {
  type: 'result';
  fromCommitSent: number[];
  fromCommitted: number[];
  commitMs: number[];
  missing: number;
}

export async function latencyRow(ctx: PgBenchContext): Promise<RowResult> {
  const { events, warmup, gapMs } = ctx.cfg.postgres.latency;
  const results: Record<string, LatencyResult[]> = {};
  const relayStats: Record<string, StatementStats[]> = {};
  for (let run = 0; run < ctx.cfg.runs; run++) {
    for (const config of rotate(LATENCY_CONFIGS, run)) {
      await truncate(ctx);
      await ctx.collector.reset({ times: true });
      const relays = await startRelays(ctx, 1, 'postgres', '', config.options);
      let r: LatencyResult;
      let relayResults: RelayResult[];
      try {
        for (const relay of relays) relay.send({ type: 'go' });
        r = await runChild<LatencyResult>('pg-latency.ts', {
          ...ctx.pg,
          collectorPort: ctx.collector.port,
          deadEndpoint: `http://127.0.0.1:${ctx.deadPort}/com.snowplowanalytics.snowplow/tp2`,
          events,
          warmup,
          gapMs,
        });
      } finally {
        relayResults = await stopRelays(relays);
      }
      (results[config.id] ??= []).push(r);
      (relayStats[config.id] ??= []).push(relayResults[0]?.statements ?? {});
      miss(ctx, r.missing, `P3 ${config.id} run ${run + 1}: ${r.missing} events never reached the collector`);
      ctx.log(
        `P3 run ${run + 1}/${ctx.cfg.runs} ${config.id}: p50 ${fmt(percentile(r.fromCommitSent, 50), 2)} ms, ` +
          `p99 ${fmt(percentile(r.fromCommitSent, 99), 2)} ms from COMMIT sent (${r.fromCommitSent.length} events)`,
      );
    }
  }
  const figure = (id: string, key: 'fromCommitSent' | 'fromCommitted' | 'commitMs', p: number) =>
    median(results[id].map((r) => percentile(r[key], p)));
  const rows = LATENCY_CONFIGS.map((c) => [
    c.label,
    `**${fmt(figure(c.id, 'fromCommitSent', 50), 2)}**`,
    `**${fmt(figure(c.id, 'fromCommitSent', 99), 2)}**`,
    fmt(figure(c.id, 'fromCommitted', 50), 2),
    fmt(figure(c.id, 'fromCommitted', 99), 2),
    fmt(Math.max(...results[c.id].map((r) => Math.max(...r.fromCommitSent))), 2),
    fmt(figure(c.id, 'commitMs', 50), 2),
    describeStatements(sumStats(relayStats[c.id]), ['lease', 'ack']),
  ]);
  const p50 = figure('default', 'fromCommitSent', 50);
  const p50Linger0 = figure('linger0', 'fromCommitSent', 50);
  const markdown = [
    `### P3. Latency from a transaction's commit to the collector's 2xx: one billing event at a time, one idle relay in another process (${fmt(events)} events after ${fmt(warmup)} warm-up, ${fmt(gapMs)} ms idle between; medians of ${ctx.cfg.runs})`,
    '',
    table(
      [
        'relay',
        'p50 ms from COMMIT sent',
        'p99 ms from COMMIT sent',
        'p50 ms from COMMIT returned',
        'p99 ms from COMMIT returned',
        'max ms (all runs)',
        'COMMIT round trip p50 ms',
        'the relay’s statements (all runs: count × mean wall ms, rows each)',
      ],
      rows,
    ),
    '',
    'A writer process runs `BEGIN; await tracker.inTransaction(client).trackBillingEvent(…); COMMIT` and stamps the ' +
      'wall clock when it sends COMMIT and when COMMIT returns; the collector (a third process) keeps when it answered ' +
      'the request carrying that eid, and the writer waits for it (a long poll to the collector) before idling and ' +
      'sending the next. The relay is woken by the outbox trigger’s NOTIFY (its poll is 5 s): it leases (one ' +
      'statement), posts, and deletes the row after the 2xx. With default options a relay holds a batch smaller ' +
      'than `batchSize` for `lingerMs` (20 ms) before sending it, so the default row includes that wait; the ' +
      '`lingerMs: 0` row is the LISTEN/NOTIFY wake-up itself.',
  ].join('\n');
  return {
    markdown,
    targets: [
      {
        target: 'commit → collector 2xx, one event at a time, one idle relay: p50 ≤ 10 ms (P3; p99 reported)',
        measured:
          `defaults: p50 ${fmt(p50, 2)} ms, p99 ${fmt(figure('default', 'fromCommitSent', 99), 2)} ms; ` +
          `\`lingerMs: 0\`: p50 ${fmt(p50Linger0, 2)} ms, p99 ${fmt(figure('linger0', 'fromCommitSent', 99), 2)} ms`,
        met: p50 <= 10,
      },
    ],
  };
}

// ---------------------------------------------------------------------------------------------
// P4: delivered per second from a pre-filled outbox

type DeliveryVariant = 'pg-1' | 'pg-3' | 'sqlite-1';
const DELIVERY_LABELS: Record<DeliveryVariant, string> = {
  'pg-1': 'PostgreSQL, one relay',
  'pg-3': 'PostgreSQL, three relays (three processes, one table)',
  'sqlite-1': 'SQLite, one relay (its file)',
};

interface DeliveryRun {
  perSecond: number;
  ms: number;
  unique: number;
  duplicates: number;
  requests: number;
  leftInTable: number;
  relayCpuUsPerEvent: number;
  collectorCpuUsPerEvent: number;
  statements: StatementStats;
  perRelay: number[];
}

export async function deliveryRow(ctx: PgBenchContext): Promise<RowResult> {
  const { rows } = ctx.cfg.postgres.delivery;
  const variants: DeliveryVariant[] = ['pg-1', 'pg-3', 'sqlite-1'];
  const results: Record<DeliveryVariant, DeliveryRun[]> = { 'pg-1': [], 'pg-3': [], 'sqlite-1': [] };
  for (let run = 0; run < ctx.cfg.runs; run++) {
    for (const v of rotate(variants, run)) {
      const store = v.startsWith('pg') ? 'postgres' : 'sqlite';
      const sqlitePath = join(ctx.tmpDir, `delivery-${run}.db`);
      if (store === 'postgres') {
        await truncate(ctx);
        await admin(ctx, 'fill', { rows });
      } else {
        // The SQLite outbox is filled by the store itself (P1's child, send loop not started).
        const fill = await runChild<CommitResult>('pg-commit.ts', {
          ...ctx.pg,
          store: 'sqlite',
          sqlitePath,
          events: rows,
          chunk: 1_000,
          warmup: 0,
          relay: false,
          endpoint: `http://127.0.0.1:${ctx.deadPort}/com.snowplowanalytics.snowplow/tp2`,
        });
        if (fill.held !== rows) throw new Error(`the SQLite fill held ${fill.held} of ${rows} events`);
      }
      await ctx.collector.reset();
      const before = await ctx.collector.stats();
      const relays = await startRelays(ctx, v === 'pg-3' ? 3 : 1, store, sqlitePath, emitterOptionsFromEnv());
      const started = wallNow();
      let stats: CollectorStats;
      try {
        for (const relay of relays) relay.send({ type: 'go' });
        stats = await ctx.collector.waitFor(rows, { quietMs: 10_000, timeoutMs: 600_000 });
      } catch (err) {
        await stopRelays(relays).catch(() => undefined);
        throw err;
      }
      const relayResults = await stopRelays(relays);
      const left =
        store === 'postgres' ? (await admin<{ type: 'result'; outbox: number }>(ctx, 'count')).outbox : Number.NaN;
      for (const suffix of ['', '-wal', '-shm']) rmSync(`${sqlitePath}${suffix}`, { force: true });
      // Nothing arrived: no time to the last event (and the events are counted missing below).
      const ms = stats.unique > 0 ? stats.lastAt - started : Number.NaN;
      const r: DeliveryRun = {
        perSecond: stats.unique > 0 ? (stats.unique / ms) * 1000 : 0,
        ms,
        unique: stats.unique,
        duplicates: stats.duplicates,
        requests: stats.requests,
        leftInTable: left,
        relayCpuUsPerEvent: relayResults.reduce((s, x) => s + x.cpuUs, 0) / stats.unique,
        collectorCpuUsPerEvent: (stats.cpuUs - before.cpuUs) / stats.unique,
        statements: sumStats(relayResults.map((x) => x.statements)),
        perRelay: relayResults.map((x) => x.sent),
      };
      results[v].push(r);
      miss(ctx, rows - stats.unique, `P4 ${v} run ${run + 1}: ${fmt(stats.unique)} of ${fmt(rows)} at the collector`);
      ctx.log(
        `P4 run ${run + 1}/${ctx.cfg.runs} ${v}: ${fmt(r.perSecond)}/s (${fmt(ms)} ms, ${fmt(r.requests)} requests, ` +
          `${fmt(r.duplicates)} duplicates, sent per relay ${r.perRelay.map((n) => fmt(n)).join(' / ')})` +
          (store === 'postgres' ? `; ${describeStatements(r.statements, ['lease', 'ack', 'release'])}` : ''),
      );
    }
  }
  const rate = (v: DeliveryVariant) => median(results[v].map((r) => r.perSecond));
  const tableRows = variants.map((v) => {
    const rs = results[v];
    const st = sumStats(rs.map((r) => r.statements));
    return [
      DELIVERY_LABELS[v],
      `**${fmt(rate(v))}**`,
      range(rs.map((r) => r.perSecond)),
      fmt(median(rs.map((r) => r.ms))),
      fmt(median(rs.map((r) => r.requests))),
      fmt(median(rs.map((r) => r.duplicates))),
      v === 'pg-3' ? rs.map((r) => r.perRelay.map((n) => fmt(n)).join(' / ')).join('; ') : '—',
      fmt(median(rs.map((r) => r.relayCpuUsPerEvent)), 1),
      fmt(median(rs.map((r) => r.collectorCpuUsPerEvent)), 1),
      v.startsWith('pg') ? describeStatements(st, ['lease', 'ack']) : '—',
    ];
  });
  const ratio = median(results['pg-3'].map((r, i) => r.perSecond / (results['pg-1'][i]?.perSecond ?? Number.NaN)));
  const experiment = emitterOptionsFromEnv();
  const markdown = [
    ...(Object.keys(experiment).length
      ? [
          `**Experiment:** the relays' Emitter built with \`${JSON.stringify(experiment)}\` (BENCH_EMITTER_OPTIONS).`,
          '',
        ]
      : []),
    `### P4. Delivered per second from a pre-filled outbox of ${fmt(rows)} custom events (medians of ${ctx.cfg.runs})`,
    '',
    table(
      [
        'relays',
        'events/s delivered',
        'min–max',
        'ms to the last event',
        'requests',
        'duplicates',
        'sent per relay (each run)',
        'relays’ CPU µs per event',
        'collector CPU µs per event',
        'store statements (all runs: count × mean wall ms, rows each)',
      ],
      tableRows,
    ),
    '',
    `Three relays / one relay, within each run: ${fmt(ratio, 2)}×. ` +
      'PostgreSQL: one `INSERT … SELECT` of copies of a tracked payload (a fresh eid each), then `ANALYZE`; SQLite: ' +
      'the store fills its file (send loop not started) and a fresh process opens it. The relays (default emitter ' +
      'options: `batchSize` 100, growing to `maxBatchSize` 1,000 while the emitter knows more wait; 4 requests in ' +
      'flight) are started, connected and warm, ' +
      'then told to go together; the time runs from go to the collector’s last request. Every eid is checked at the ' +
      'collector; duplicates would mean two relays sent the same row.',
  ].join('\n');
  return {
    markdown,
    targets: [
      {
        target: 'PostgreSQL: ≥ 20,000 events/s delivered from one relay (P4)',
        measured: `${fmt(rate('pg-1'))}/s (SQLite, one relay: ${fmt(rate('sqlite-1'))}/s)`,
        met: rate('pg-1') >= 20_000,
      },
      {
        target: 'PostgreSQL: three relays deliver no fewer events/s than one, no duplicates (P4)',
        measured: `${fmt(rate('pg-3'))}/s, ${fmt(ratio, 2)}× one relay; duplicates ${fmt(Math.max(...results['pg-3'].map((r) => r.duplicates)))}`,
        met: ratio >= 1 && results['pg-3'].every((r) => r.duplicates === 0),
      },
    ],
  };
}
