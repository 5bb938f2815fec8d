// What the outbox leaves in its SQLite file, read back with a connection of our own: the schema
// version and indexes, the WAL checkpointed once a capacity's worth of events were acked, and free
// pages kept for reuse until there are many.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { QueuedEvent, SqliteStorage } from '../../lib/core';
import { billingEvent as billing, nextTick, queued } from './support/events';
import { walFrames } from './support/wal';

const custom = (n: number, json = '{}'): QueuedEvent => queued('custom', n, { json, bytes: json.length });
type Driver = typeof import('better-sqlite3');
const openRaw = (path: string) => new (require('better-sqlite3') as Driver)(path);

/** A billing row as version 1 wrote it: a structured event whose cx holds a billable_usage entity. */
const V1_BILL = JSON.stringify({
  e: 'se',
  eid: 'b1',
  cx: Buffer.from(
    JSON.stringify({
      schema: 'iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-1',
      data: [{ schema: 'iglu:com.gitlab/billable_usage/jsonschema/1-0-2', data: { quantity: 1 } }],
    }),
  ).toString('base64url'),
});

let dir: string;
let path: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'snowplow-file-'));
  path = join(dir, 'outbox.db');
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function schemaOf(file: string): { version: unknown; indexes: unknown[] } {
  const raw = openRaw(file);
  const version = raw.prepare("SELECT value FROM snowplow_meta WHERE key = 'schema_version'").pluck().get();
  const indexes = raw
    .prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND name LIKE 'snowplow%' ORDER BY name")
    .pluck()
    .all();
  raw.close();
  return { version, indexes };
}

describe('the schema in the file', () => {
  it('a new file: version 3, with the billing rows indexed', () => {
    new SqliteStorage({ path }).close();
    expect(schemaOf(path)).toEqual({ version: '3', indexes: ['snowplow_billing'] });
  });

  it('a file of version 1 is migrated to version 3, its lane index replaced, and opens again as version 3', () => {
    const v1 = openRaw(path);
    v1.exec(`
      CREATE TABLE snowplow_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
      CREATE TABLE snowplow_events (seq INTEGER PRIMARY KEY AUTOINCREMENT, eid TEXT NOT NULL, dtm INTEGER NOT NULL,
        json TEXT NOT NULL, bytes INTEGER NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, leased_until INTEGER NOT NULL DEFAULT 0);
      CREATE INDEX snowplow_events_lane ON snowplow_events (leased_until, seq);
      INSERT INTO snowplow_meta VALUES ('schema_version', '1');
    `);
    v1.prepare('INSERT INTO snowplow_events (eid, dtm, json, bytes) VALUES (?, 1, ?, 10)').run('b1', V1_BILL);
    v1.close();
    new SqliteStorage({ path }).close();
    expect(schemaOf(path)).toEqual({ version: '3', indexes: ['snowplow_billing'] });
    const again = new SqliteStorage({ path });
    expect(again.sizeOf('billing')).toBe(1);
    again.close();
  });

  it('a file of version 2 (leases known by pid alone) is migrated in place: its rows are kept, and an old lease waits for its deadline', () => {
    const v2 = openRaw(path);
    v2.exec(`
      CREATE TABLE snowplow_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
      CREATE TABLE snowplow_events (seq INTEGER PRIMARY KEY AUTOINCREMENT, eid TEXT NOT NULL, dtm INTEGER NOT NULL,
        json TEXT NOT NULL, bytes INTEGER NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
        leased_until INTEGER NOT NULL DEFAULT 0, kind TEXT NOT NULL DEFAULT 'custom', leased_by INTEGER NOT NULL DEFAULT 0);
      CREATE INDEX snowplow_billing ON snowplow_events (seq) WHERE kind = 'billing';
      INSERT INTO snowplow_meta VALUES ('schema_version', '2');
      INSERT INTO snowplow_events (eid, dtm, json, bytes, kind) VALUES ('b1', 1, '{"e":"se"}', 10, 'billing');
      INSERT INTO snowplow_events (eid, dtm, json, bytes, attempts, kind) VALUES ('c1', 2, '{"e":"ue"}', 10, 3, 'custom');
    `);
    // Leased by a pid no process has, in a version that did not say from which namespace.
    v2.prepare(
      "INSERT INTO snowplow_events (eid, dtm, json, bytes, kind, leased_until, leased_by) VALUES ('c2', 3, '{}', 2, 'custom', ?, 4194305)",
    ).run(Date.now() + 3_600_000);
    v2.close();
    const shared = new SqliteStorage({ path, shared: true });
    expect(schemaOf(path)).toEqual({ version: '3', indexes: ['snowplow_billing'] });
    const leased = shared.lease(10);
    expect(leased.map((e) => [e.eid, e.dtm, e.json, e.attempts])).toEqual([
      ['b1', 1, '{"e":"se"}', 0],
      ['c1', 2, '{"e":"ue"}', 3],
    ]);
    shared.close();
    const raw = openRaw(path);
    expect(raw.prepare("SELECT leased_by, leased_ns, leased_boot FROM snowplow_events WHERE eid = 'c2'").get()).toEqual(
      {
        leased_by: 4194305,
        leased_ns: '',
        leased_boot: '',
      },
    );
    raw.close();
  });
});

describe('the outbox reclaims space as it acks', () => {
  const commits = () => walFrames(`${path}-wal`).commits;

  it("checkpoints the WAL once a capacity's worth of events were acked, so the next write starts it over", async () => {
    const storage = new SqliteStorage({ path, capacity: 4 });
    storage.addBatch([1, 2, 3, 4].map((n) => custom(n)));
    await nextTick();
    const leased = storage.lease(4);
    storage.ack(leased.slice(0, 3)); // 3 of 4: no checkpoint yet
    storage.add(billing(1));
    const growing = commits();
    expect(growing).toBeGreaterThanOrEqual(4);
    storage.ack(leased.slice(3)); // the 4th ack: checkpointed
    storage.add(billing(2));
    expect(commits()).toBe(1);
    storage.close();
  });

  it('keeps a few free pages in the file for reuse: the vacuum waits for 256 of them', async () => {
    const storage = new SqliteStorage({ path, capacity: 40 });
    const big = `{"p":"${'x'.repeat(3_000)}"}`;
    storage.addBatch(Array.from({ length: 40 }, (_, i) => custom(i, big)));
    await nextTick();
    storage.ack(storage.lease(40)); // a capacity's worth: space is looked at
    storage.close();
    const raw = openRaw(path);
    const free = raw.pragma('freelist_count', { simple: true }) as number;
    raw.close();
    // 40 rows of 3 KB took ~40 pages; once deleted they stay free in the file.
    expect(free).toBeGreaterThan(20);
    expect(free).toBeLessThan(256);
  });

  it('vacuums once 256 pages are free, at the ack that frees the 256th', () => {
    // Shared, so that a connection of our own can read the free pages while the outbox is open.
    // Billing rows, which the capacity does not bound; the capacity says when space is looked at.
    const storage = new SqliteStorage({ path, shared: true, capacity: 256 });
    const page = `{"p":"${'x'.repeat(3_900)}"}`; // one row per 4 KB page: each ack frees one
    storage.addBatch(Array.from({ length: 300 }, (_, i) => ({ ...billing(i), json: page, bytes: page.length })));
    const leased = storage.lease(300);
    const raw = openRaw(path);
    const free = () => raw.pragma('freelist_count', { simple: true }) as number;
    for (const event of leased.slice(0, 255)) storage.ack([event]);
    expect(free()).toBe(255);
    storage.ack([leased[255]]); // 256 free when the 256th ack looks: all handed back
    expect(free()).toBe(0);
    raw.close();
    storage.close();
  });
});
