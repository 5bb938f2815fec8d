// A real PostgreSQL for the outbox suites: 127.0.0.1:5432, trust auth, database `test`, user
// postgres (PG_TEST_URL overrides). Each suite works in a schema of its own, dropped afterwards.
// A missing server fails the suite with how to start one: it never skips.
import { randomBytes } from 'node:crypto';
import { Pool } from 'pg';

export const PG_URL = process.env.PG_TEST_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
/** The server's port (what a test proxy forwards to). */
export const PG_PORT = Number(new URL(PG_URL).port || 5432);

/** The test database's URL, reached through a local proxy on `port` instead. */
export function viaProxy(port: number): string {
  const url = new URL(PG_URL);
  url.hostname = '127.0.0.1';
  url.port = String(port);
  return url.toString();
}

const HOW_TO_START =
  `PostgreSQL does not answer at ${PG_URL}. The PostgreSQL outbox suites need a real server with trust auth ` +
  'and a database named "test". Start one, for example:\n' +
  '  docker run -d -p 5432:5432 -e POSTGRES_HOST_AUTH_METHOD=trust -e POSTGRES_DB=test postgres:15\n' +
  'or, on Debian/Ubuntu: sudo pg_ctlcluster 15 main start && sudo -u postgres createdb test ' +
  '(with "host all all 127.0.0.1/32 trust" in pg_hba.conf); or set PG_TEST_URL.';

export interface PostgresSuite {
  /** A pool on the test database (ended after the suite). */
  readonly pool: Pool;
  /** This suite's schema, created before it and dropped (cascade) after it. */
  readonly schema: string;
  /** The connection string. */
  readonly url: string;
}

/** Per suite: a pool and a fresh schema. Call at the top of a spec file (or a describe). */
export function usePostgres(name: string): PostgresSuite {
  const suite = {
    pool: undefined as unknown as Pool,
    schema: `t_${name.replace(/\W/g, '_')}_${process.pid}_${randomBytes(3).toString('hex')}`.toLowerCase(),
    url: PG_URL,
  };
  beforeAll(async () => {
    suite.pool = new Pool({ connectionString: PG_URL, connectionTimeoutMillis: 5_000 });
    suite.pool.on('error', () => undefined);
    try {
      await suite.pool.query('SELECT 1');
    } catch (err) {
      await suite.pool.end().catch(() => undefined);
      throw new Error(`${HOW_TO_START}\n(${(err as Error).message})`, { cause: err });
    }
    await suite.pool.query(`CREATE SCHEMA "${suite.schema}"`);
  });
  afterAll(async () => {
    if (!suite.pool) return;
    try {
      await suite.pool.query(`DROP SCHEMA IF EXISTS "${suite.schema}" CASCADE`);
    } finally {
      await suite.pool.end();
    }
  });
  return suite;
}

/** Rows of a query, typed loosely. */
export async function rows<T = Record<string, unknown>>(pool: Pool, sql: string, params: unknown[] = []): Promise<T[]> {
  return (await pool.query(sql, params)).rows as T[];
}
