/**
 * Runs one SQL statement with `$1`-style parameters inside the caller's transaction: the form
 * every other client fits in a line (Prisma's interactive `tx`, Kysely, Drizzle, MikroORM).
 *
 * @example
 * ```ts
 * await prisma.$transaction(async (tx) => {
 *   await tracker.inTransaction((sql, params) => tx.$executeRawUnsafe(sql, ...params)).trackBillingEvent(usage);
 * });
 * ```
 */
export type SqlExecutor = (sql: string, params: unknown[]) => PromiseLike<unknown>;

/**
 * An open transaction that `Tracker.inTransaction` writes events through. Typed structurally, so
 * that no declaration of this library imports `pg`, `typeorm` or `knex`:
 * - `{ query(sql, params) }`: a `pg` client inside `BEGIN`, a TypeORM `EntityManager` (in
 *   `transaction()`) or `QueryRunner`;
 * - `{ raw(sql, bindings) }`: a Knex transaction (`?` placeholders are used for it);
 * - a `SqlExecutor` function, for any other client.
 */
export type TransactionLike =
  | { query(sql: string, params?: unknown[]): PromiseLike<unknown> }
  | { raw(sql: string, bindings?: unknown[]): PromiseLike<unknown> }
  | SqlExecutor;
