import { parseArgs } from 'node:util';
import { SnowplowError } from '../errors';
import { loadPg } from '../storage/postgres-io';
import { DeadTableQueryable, requeueDeadLetterTable } from './dead-table';

/** Where the CLI writes. */
interface Output {
  out(line: string): void;
  err(line: string): void;
}

export const TABLE_USAGE = `Usage: nestjs-snowplow-replay --postgres URL [--schema NAME] [--table NAME] [--reason REASON]...

Moves the rows of the PostgreSQL store's dead-letter table (<table>_dead) back into its outbox, in
one statement, with their eids: the relays of the running instances send them, and a row the
collector refuses again returns to the dead-letter table.
      --postgres URL    the database's connection string
      --schema NAME     the outbox's schema (default public)
      --table NAME      the outbox table (default snowplow_outbox)
      --reason REASON   only rows given up for REASON (expired, shutdown, not_stored, rejected,
                        too_large, overflow); repeat it for several (default: every row)
Exit status: 0 once the rows are moved (or none matched), 1 on an error, 2 on a usage error.`;

/** True when the command line is a dead-letter table replay (it names `--postgres`). */
export function isTableReplay(argv: readonly string[]): boolean {
  return argv.some((arg) => arg === '--postgres' || arg.startsWith('--postgres='));
}

/**
 * `nestjs-snowplow-replay --postgres URL`: requeues the dead-letter table's rows and prints how
 * many; resolves with the exit status. Throws `usage` errors for a bad command line.
 */
export async function runTableReplayCli(
  argv: readonly string[],
  output: Output,
  usage: (message: string) => SnowplowError,
): Promise<number> {
  let values: { postgres?: string; schema?: string; table?: string; reason?: string[] };
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        postgres: { type: 'string' },
        schema: { type: 'string' },
        table: { type: 'string' },
        reason: { type: 'string', multiple: true },
      },
    }));
  } catch (err) {
    throw usage((err as Error).message);
  }
  if (!values.postgres) throw usage('--postgres needs a connection string');
  const pg = loadPg();
  const pool = new pg.Pool({ connectionString: values.postgres, max: 1 });
  try {
    const names = { schema: values.schema ?? 'public', table: values.table ?? 'snowplow_outbox' };
    const db = pool as unknown as DeadTableQueryable;
    const { requeued, billing } = await requeueDeadLetterTable(db, { ...names, reasons: values.reason });
    output.out(
      `${names.schema}.${names.table}_dead: ${requeued} events (${billing} billing) moved back into ` +
        `${names.schema}.${names.table}; the relays of the running instances send them (or of the next to start)`,
    );
    return 0;
  } finally {
    await pool.end();
  }
}
