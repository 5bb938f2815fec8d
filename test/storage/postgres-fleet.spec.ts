// The PostgreSQL outbox shared by a fleet: three app processes (real children, each the core
// Emitter and Tracker on one table) track 100,000 events, 1 % billing, while the collector faults
// at random (500, reset, hang, 429 with Retry-After) and instances are killed with SIGKILL at random
// and restarted. Each child reports the eids whose `committed` resolved; every one of them must
// reach the collector; a duplicate must come from a batch a killed instance had in flight (at most
// kills x batchSize x maxConcurrentRequests) or from a request answered 2xx after it timed out;
// and the table must end empty.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { migratePostgresOutbox } from '../../lib/core';
import { LocalCollector, startLocalCollector } from '../../lib/testing/local-collector';
import { rows, usePostgres } from '../support/postgres';
import { waitFor } from '../support/wait-for';
import { AppProcess, startApp } from './support/app-process';

const pg = usePostgres('fleet');

const TOTAL = 100_000;
const SLOTS = 3;
const KILLS = 6;
/** Events per request (batchSize and maxBatchSize) and requests in flight per instance. */
const BATCH = 1_000;
const CONCURRENCY = 2;
/** What one killed instance can have had accepted by the collector and not yet deleted. */
const PER_KILL = BATCH * CONCURRENCY;
const REQUEST_TIMEOUT_MS = 1_000;
const LEASE_MS = 3_000;

/** mulberry32, seeded: the kill points and victims of a run can be replayed with FLEET_SEED. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = Math.imul(state ^ (state >>> 15), state | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Instance {
  name: string;
  slot: number;
  app: AppProcess;
  out: string;
  killed: boolean;
}

/** The lines of a child's file (complete lines only: a kill may cut the last one). */
function linesIn(file: string): string[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  return text.split('\n').slice(0, -1);
}

/** The eids a child's OUT file lists as committed. */
function eidsIn(out: string): string[] {
  return linesIn(out).filter((line) => /^[0-9a-f-]{36}$/.test(line));
}

describe('three instances share one PostgreSQL outbox through faults and kill -9', () => {
  let dir: string;
  let collector: LocalCollector;
  const instances: Instance[] = [];

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'snowplow-fleet-'));
    await migratePostgresOutbox(pg.pool, { schema: pg.schema });
  });
  afterEach(async () => {
    for (const instance of instances) instance.app.child.kill('SIGKILL');
    await Promise.all(instances.map((instance) => instance.app.exited));
    await collector?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('every committed eid arrives, duplicates only from the batches in flight at the kills, the table ends empty', async () => {
    const seed = Number(process.env.FLEET_SEED ?? Date.now() % 0xffffffff);
    const draw = random(seed);
    // Per sender (X-Sender: the instance's name): the eids of every request answered 2xx.
    // Per eid, each request answered 2xx that held it: "sender#attempt" (X-Sender, X-Attempt).
    const accepted = new Map<string, string[]>();
    let acceptedEvents = 0;
    const billing = new Set<string>();
    let requests = 0;
    collector = await startLocalCollector({
      // Counted here from every answered request; the collector need not keep them.
      maxEvents: 1_000,
      maxRequests: 100,
      onRequest: (request) => {
        requests++;
        if (request.fate !== 'answered' || request.status === undefined || request.status >= 300) return;
        const copy = `${String(request.headers['x-sender'])}#${String(request.headers['x-attempt'])}`;
        for (const { eid, e } of JSON.parse(request.body).data as Array<{ eid: string; e: string }>) {
          acceptedEvents++;
          if (e === 'se') billing.add(eid);
          const copies = accepted.get(eid);
          if (copies) copies.push(copy);
          else accepted.set(eid, [copy]);
        }
      },
      faults: {
        steps: [
          { status: 500, probability: 0.06, seed },
          { reset: true, probability: 0.06, seed: (seed + 1) >>> 0 },
          { hang: true, probability: 0.06, seed: (seed + 2) >>> 0 },
          { status: 429, retryAfter: 1, probability: 0.06, seed: (seed + 3) >>> 0 },
        ],
      },
    });

    // Each slot tracks its share; a restarted instance tracks what its slot has not committed yet.
    const quota = Array.from({ length: SLOTS }, (_, i) => Math.floor(TOTAL / SLOTS) + (i < TOTAL % SLOTS ? 1 : 0));
    const generations = new Array<number>(SLOTS).fill(0);
    const committedBySlot = Array.from({ length: SLOTS }, () => new Set<string>());
    const current: Instance[] = [];

    // What each running instance has reported committed so far (its "committed N" lines).
    const reported = new Map<string, number>();
    const finished = new Set<string>();
    const tracking = () => current.filter((instance) => !finished.has(instance.name));
    const committedNow = () =>
      committedBySlot.reduce((sum, set, slot) => sum + set.size + (reported.get(current[slot]?.name) ?? 0), 0);

    const start = (slot: number): Instance => {
      const name = `app${slot}.${generations[slot]++}`;
      const out = join(dir, `${name}.eids`);
      const remaining = quota[slot] - committedBySlot[slot].size;
      const app = startApp(
        'pg-fleet-app.ts',
        {
          COLLECTOR_URL: collector.endpoint,
          PG_URL: pg.url,
          SCHEMA: pg.schema,
          NAME: name,
          OUT: out,
          EVENTS: String(remaining),
          // Each instance tracks its share at a steady rate, over some 10 s, so kills hit tracking too.
          CHUNK: '500',
          RATE: '3500',
          BILLING_EVERY: '100',
          BATCH: String(BATCH),
          CONCURRENCY: String(CONCURRENCY),
          REQUEST_TIMEOUT_MS: String(REQUEST_TIMEOUT_MS),
          LEASE_MS: String(LEASE_MS),
        },
        undefined,
        (line) => {
          const match = /^committed (\d+)$/.exec(line);
          if (match) reported.set(name, Number(match[1]));
          if (line.startsWith('tracked ')) finished.add(name);
        },
      );
      const instance = { name, slot, app, out, killed: false };
      instances.push(instance);
      current[slot] = instance;
      return instance;
    };
    const started = Date.now();
    for (let slot = 0; slot < SLOTS; slot++) start(slot);
    await Promise.all(current.map((instance) => instance.app.waitForOutput('ready')));

    // Kill points, drawn at random: half while the fleet tracks (when the events committed reach a
    // share of 5 % to 60 %; the victim is one still tracking that has committed since it started),
    // half while it delivers (when the collector has accepted 20 % to 90 %; any instance). Each
    // victim is restarted at once.
    const point = (from: number, to: number) => Math.floor(TOTAL * (from + (to - from) * draw()));
    const duringTracking = Array.from({ length: KILLS / 2 }, () => point(0.05, 0.6)).sort((a, b) => a - b);
    const duringDelivery = Array.from({ length: KILLS / 2 }, () => point(0.2, 0.9)).sort((a, b) => a - b);
    const schedule = duringTracking.flatMap((at, i) => [
      { phase: 'tracking', at, progress: committedNow },
      { phase: 'delivery', at: duringDelivery[i], progress: () => accepted.size },
    ]);
    const kills: Array<{ name: string; phase: string; at: number; victimTracking: boolean; committedBefore: number }> =
      [];
    // A victim while tracking is one that has committed since it started, not one just restarted.
    const busy = () => tracking().filter((instance) => (reported.get(instance.name) ?? 0) > 0);
    for (const { phase, at, progress } of schedule) {
      const due = () => progress() >= at && (phase === 'delivery' || tracking().length === 0 || busy().length > 0);
      await waitFor(due, {
        timeoutMs: 90_000,
        intervalMs: 5,
        what: `${at} events ${phase === 'tracking' ? 'committed' : 'at the collector'} (have ${progress()})`,
      });
      const candidates = phase === 'tracking' && busy().length > 0 ? busy() : current;
      const victim = candidates[Math.floor(draw() * candidates.length)];
      const victimTracking = !finished.has(victim.name);
      victim.killed = true;
      victim.app.child.kill('SIGKILL');
      await victim.app.exited;
      for (const eid of eidsIn(victim.out)) committedBySlot[victim.slot].add(eid);
      kills.push({ name: victim.name, phase, at, victimTracking, committedBefore: committedBySlot[victim.slot].size });
      await start(victim.slot).app.waitForOutput('ready');
    }

    // Every slot tracks its whole share, then the relays empty the table.
    await waitFor(() => tracking().length === 0, { timeoutMs: 90_000, what: 'every instance to track its share' });
    for (const instance of current) for (const eid of eidsIn(instance.out)) committedBySlot[instance.slot].add(eid);
    const committed = new Set(committedBySlot.flatMap((set) => [...set]));
    const trackedAt = Date.now() - started;
    await waitFor(async () => [...committed].every((eid) => accepted.has(eid)) && (await outboxRows(pg)) === 0, {
      timeoutMs: 90_000,
      intervalMs: 100,
      what: 'every committed eid at the collector and an empty outbox',
    });
    const deliveredAt = Date.now() - started;
    for (const instance of current) instance.app.send('stop');
    expect(await Promise.all(current.map((instance) => instance.app.exited))).toEqual(current.map(() => 0));

    const duplicates = acceptedEvents - accepted.size;
    // Where each repeat comes from. A copy the collector accepted from an instance that was killed
    // before it could delete the rows is sent again (at most its batches in flight). So is a copy
    // whose request the client had given up on (timed out) when the collector answered 2xx: the one
    // repeat no client can avoid (see test/README.md); each child lists its timed-out attempts in
    // OUT.timeouts. Any other repeat (a live instance's lease taken by another) is a bug.
    const late = new Set(
      instances.flatMap((i) => linesIn(`${i.out}.timeouts`).map((attempt) => `${i.name}#${attempt}`)),
    );
    const killed = new Set(kills.map((kill) => kill.name));
    const repeats = { afterKill: new Map<string, number>(), afterLateAnswer: 0, unexplained: [] as string[] };
    const lateAnswered = new Set<string>();
    for (const [eid, copies] of accepted) {
      for (const copy of copies) if (late.has(copy)) lateAnswered.add(copy);
      let extra = copies.length - 1;
      if (extra === 0) continue;
      const byLate = Math.min(extra, copies.filter((copy) => late.has(copy)).length);
      repeats.afterLateAnswer += byLate;
      extra -= byLate;
      for (const copy of copies) {
        const sender = copy.split('#')[0];
        if (extra === 0) break;
        if (late.has(copy) || !killed.has(sender)) continue;
        repeats.afterKill.set(sender, (repeats.afterKill.get(sender) ?? 0) + 1);
        extra--;
      }
      if (extra > 0) repeats.unexplained.push(`${eid}: ${copies.join(', ')}`);
    }
    const afterKills = [...repeats.afterKill.values()].reduce((sum, n) => sum + n, 0);
    const faults = collector.faults().applied;
    const report = {
      seed,
      committed: committed.size,
      delivered: accepted.size,
      billingDelivered: billing.size,
      acceptedEvents,
      duplicates,
      bound: KILLS * PER_KILL,
      kills,
      duplicatesAfterKills: afterKills,
      duplicatesByKilledSender: Object.fromEntries(repeats.afterKill),
      duplicatesAfterLateAnswers: repeats.afterLateAnswer,
      timedOutRequests: late.size,
      timedOutRequestsAnswered2xx: lateAnswered.size,
      requests,
      faults: { status500: faults[0], reset: faults[1], hang: faults[2], status429: faults[3] },
      trackedMs: trackedAt,
      deliveredMs: deliveredAt,
      restartsBySlot: generations.map((g) => g - 1),
      // What the children logged at error level (the first few), for the record.
      childErrors: instances
        .flatMap((i) => i.app.output().split('\n'))
        .filter((line) => line.startsWith('['))
        .slice(0, 5),
    };
    process.stdout.write(`fleet: ${JSON.stringify(report)}\n`);

    // Every slot committed its whole share (the eids the children reported), and every one arrived.
    expect(committedBySlot.map((set) => set.size)).toEqual(quota);
    expect(committed.size).toBe(TOTAL);
    expect([...committed].filter((eid) => !accepted.has(eid))).toEqual([]);
    // About 1 % billing: each instance's every 100th event, counted afresh by each of the
    // SLOTS + KILLS instances, so each may round down one.
    expect(billing.size).toBeGreaterThanOrEqual(TOTAL / 100 - (SLOTS + KILLS));
    // The collector faulted in every way, and instances were killed.
    expect(faults.every((n) => n > 0)).toBe(true);
    expect(kills).toHaveLength(KILLS);
    // Duplicates: no more than the batches in flight at the kills (each killed instance's at most
    // its own), besides the copies answered after their request timed out; none unexplained.
    expect(repeats.unexplained).toEqual([]);
    for (const count of repeats.afterKill.values()) expect(count).toBeLessThanOrEqual(PER_KILL);
    expect(afterKills).toBeLessThanOrEqual(KILLS * PER_KILL);
    expect(duplicates).toBe(afterKills + repeats.afterLateAnswer);
    // Nothing stays behind: no row in the outbox, none given up.
    expect(await outboxRows(pg)).toBe(0);
    expect(await rows(pg.pool, `SELECT eid FROM "${pg.schema}".snowplow_outbox_dead`)).toEqual([]);
  }, 240_000);
});

async function outboxRows(suite: { pool: import('pg').Pool; schema: string }): Promise<number> {
  const [row] = await rows<{ n: number }>(
    suite.pool,
    `SELECT count(*)::int AS n FROM "${suite.schema}".snowplow_outbox`,
  );
  return row.n;
}
