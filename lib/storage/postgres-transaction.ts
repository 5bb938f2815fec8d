import { InvalidOptionError } from '../errors';
import type { SqlExecutor, TransactionLike } from '../tracker/transaction';

/** The statement with `?` placeholders (Knex's `raw`), and its bindings in the order the placeholders appear. */
export function toQuestionMarks(sql: string, params: readonly unknown[]): { sql: string; bindings: unknown[] } {
  const bindings: unknown[] = [];
  const text = sql.replace(/\$(\d+)/g, (_, n: string) => {
    bindings.push(params[Number(n) - 1]);
    return '?';
  });
  return { sql: text, bindings };
}

/**
 * The statement runner of a caller's transaction: a Knex transaction (`raw`, with `?`
 * placeholders; checked first, since a Knex transaction is also a function), a `pg` client or a
 * TypeORM `EntityManager` / `QueryRunner` (`query`, with `$n` placeholders), or a function.
 */
export function sqlExecutorOf(tx: TransactionLike): SqlExecutor {
  const candidate = tx as { raw?: unknown; query?: unknown } | null | undefined;
  if (candidate && typeof candidate.raw === 'function') {
    const knex = tx as { raw(sql: string, bindings?: unknown[]): PromiseLike<unknown> };
    return (sql, params) => {
      const { sql: text, bindings } = toQuestionMarks(sql, params);
      return knex.raw(text, bindings);
    };
  }
  if (candidate && typeof candidate.query === 'function') {
    const client = tx as { query(sql: string, params?: unknown[]): PromiseLike<unknown> };
    return (sql, params) => client.query(sql, params);
  }
  if (typeof tx === 'function') return tx as SqlExecutor;
  throw new InvalidOptionError(
    'tx',
    'must be an open transaction: a pg client, a TypeORM EntityManager or QueryRunner, a Knex transaction, ' +
      'or a function (sql, params) => Promise',
  );
}
