/**
 * bench/postgres.ts's set-up and checks, in a child so that the outbox's DDL comes from the built
 * library (dist/ as snapshotted), like every measured process's code:
 *   setup     the schema, the outbox (`migratePostgresOutbox`) and a user table `charges`; the server's settings
 *   truncate  empties the outbox, its dead-letter table and `charges`
 *   fill      `rows` custom events in one INSERT ... SELECT (a real tracked payload, a fresh eid each), then ANALYZE
 *   count     rows in the outbox and the dead-letter table
 *   drop      the schema
 */
import type { Pool } from 'pg';
import { migratePostgresOutbox, Tracker } from 'nestjs-snowplow/core';
import type { TrackedPayload } from 'nestjs-snowplow/core';
import { main, params, report } from '../support/child';
import type { PgTarget } from '../support/pg';
import { APP_ID, EVENT_NAME, EVENT_PROPS } from '../support/subjects';

interface Params extends PgTarget {
  op: 'setup' | 'truncate' | 'fill' | 'count' | 'drop';
  rows?: number;
}

async function setup(pool: Pool, p: Params): Promise<Record<string, string>> {
  await pool.query(`CREATE SCHEMA IF NOT EXISTS "${p.schema}"`);
  await migratePostgresOutbox(pool, { schema: p.schema, table: p.table });
  await pool.query(
    `CREATE TABLE IF NOT EXISTS "${p.schema}".charges (id bigserial PRIMARY KEY, customer int NOT NULL, cents int NOT NULL, created_at timestamptz NOT NULL DEFAULT now())`,
  );
  const settings: Record<string, string> = {};
  for (const name of ['server_version', 'fsync', 'synchronous_commit', 'shared_buffers', 'max_connections']) {
    const { rows } = await pool.query<{ v: string }>(`SELECT current_setting($1) AS v`, [name]);
    settings[name] = rows[0].v;
  }
  return settings;
}

/** One payload as the tracker writes it, to copy with fresh eids. */
function templatePayload(): TrackedPayload {
  let captured: TrackedPayload | undefined;
  const tracker = new Tracker({
    appId: APP_ID,
    emitter: {
      enqueue: (payload: TrackedPayload) => {
        captured = payload;
        return Promise.resolve({ durable: false });
      },
    },
  });
  tracker.trackEvent(EVENT_NAME, { ...EVENT_PROPS });
  if (!captured) throw new Error('the tracker wrote no payload');
  return captured;
}

main(async () => {
  const p = params<Params>();
  const { Pool: PgPool } = require('pg') as typeof import('pg');
  const pool = new PgPool({ connectionString: p.url, max: 2 });
  const outbox = `"${p.schema}"."${p.table}"`;
  const dead = `"${p.schema}"."${p.table}_dead"`;
  try {
    switch (p.op) {
      case 'setup':
        await report({ type: 'result', settings: await setup(pool, p) });
        return;
      case 'truncate':
        await pool.query(`TRUNCATE ${outbox}, ${dead}, "${p.schema}".charges RESTART IDENTITY`);
        await report({ type: 'result' });
        return;
      case 'fill': {
        const template = templatePayload();
        const started = performance.now();
        const { rowCount } = await pool.query(
          `INSERT INTO ${outbox} (eid, lane, payload)
           SELECT g.eid, 'custom', replace($1, $2, g.eid::text)::json
           FROM (SELECT gen_random_uuid() AS eid FROM generate_series(1, $3::int)) AS g`,
          [template.json, template.eid, p.rows],
        );
        const insertMs = performance.now() - started;
        await pool.query(`ANALYZE ${outbox}`);
        await report({ type: 'result', rows: rowCount, insertMs, bytes: template.json.length });
        return;
      }
      case 'count': {
        const { rows } = await pool.query<{ outbox: number; dead: number }>(
          `SELECT (SELECT count(*) FROM ${outbox})::int AS outbox, (SELECT count(*) FROM ${dead})::int AS dead`,
        );
        await report({ type: 'result', ...rows[0] });
        return;
      }
      case 'drop':
        await pool.query(`DROP SCHEMA IF EXISTS "${p.schema}" CASCADE`);
        await report({ type: 'result' });
        return;
    }
  } finally {
    await pool.end();
  }
});
