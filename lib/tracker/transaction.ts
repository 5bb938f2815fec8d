import { InvalidOptionError } from '../errors';

/**
 * Runs one SQL statement (`$1`, `$2`... placeholders) inside the caller's open transaction. The
 * adapter for clients `Tracker.inTransaction` does not know, e.g. Prisma's interactive `tx`:
 * `(sql, params) => tx.$executeRawUnsafe(sql, ...params)`.
 */
export type SqlExecutor = (sql: string, params: unknown[]) => Promise<unknown>;

/**
 * An open transaction `Tracker.inTransaction` writes through, typed by shape only (no `pg`,
 * `typeorm` or `knex` types): a `pg` client inside `BEGIN`, a TypeORM `EntityManager` or
 * `QueryRunner` (`query`), a Knex transaction (`raw`, with `?` placeholders), or an `SqlExecutor`.
 */
export type TransactionLike =
  | { query(sql: string, params?: unknown[]): Promise<unknown> }
  | { raw(sql: string, bindings?: unknown[]): PromiseLike<unknown> }
  | SqlExecutor;

/** The statement with `?` placeholders (Knex's `raw`), and its bindings in the order they appear. */
export function toQuestionMarks(sql: string, params: readonly unknown[]): { sql: string; bindings: unknown[] } {
  const bindings: unknown[] = [];
  const text = sql.replace(/\$(\d+)/g, (_, n: string) => {
    bindings.push(params[Number(n) - 1]);
    return '?';
  });
  return { sql: text, bindings };
}

/**
 * One way to run a statement in `tx`, whatever its shape. A Knex transaction is callable too:
 * `raw` is looked for first.
 */
export function sqlExecutor(tx: TransactionLike): SqlExecutor {
  const candidate = tx as Partial<Record<'query' | 'raw', unknown>> | null;
  if (candidate !== null && (typeof candidate === 'object' || typeof candidate === 'function')) {
    if (typeof candidate.raw === 'function') {
      const knex = tx as { raw(sql: string, bindings?: unknown[]): PromiseLike<unknown> };
      return (sql, params) => {
        const { sql: text, bindings } = toQuestionMarks(sql, params);
        return Promise.resolve(knex.raw(text, bindings));
      };
    }
    if (typeof candidate.query === 'function') {
      const client = tx as { query(sql: string, params?: unknown[]): Promise<unknown> };
      return (sql, params) => client.query(sql, params);
    }
    if (typeof tx === 'function') return tx as SqlExecutor;
  }
  throw new InvalidOptionError(
    'tx',
    'must be an open transaction: a pg client, a TypeORM EntityManager or QueryRunner, a Knex transaction, or (sql, params) => Promise',
  );
}
