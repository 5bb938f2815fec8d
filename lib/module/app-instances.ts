import { resolve } from 'node:path';
import { InvalidOptionError } from '../errors';
import { outboxNames, PostgresOutboxNames } from '../storage/postgres-sql';
import { DEFAULT_TRACKER_NAME } from './snowplow.tokens';

/** One `SnowplowModule` instance of an app, as its siblings see it. */
export interface InstanceEntry {
  readonly name: string;
  /** Where its events wait when that is a place other instances could share (see {@link storeKey}). */
  readonly store: string | undefined;
  /** Drains what it holds, then stops (its lifecycle's shutdown). */
  shutdown(): Promise<void>;
}

/**
 * The `SnowplowModule` instances of one Nest app: every instance's lifecycle joins the app's
 * group, keyed by Nest's modules container (one per app). Two imports under one name (unnamed
 * imports excepted, as they always were), or two instances over one outbox (each would send what
 * the other stores, to its own collector) fail at startup. At shutdown the instances drain side
 * by side, so the app waits for the slowest one, not for the sum of them.
 */
export class AppInstances {
  private static readonly apps = new WeakMap<object, AppInstances>();
  private readonly entries: InstanceEntry[] = [];
  private shuttingDown?: Promise<void>;

  /** The group of the app whose modules container is `container`. */
  static of(container: object): AppInstances {
    let group = AppInstances.apps.get(container);
    if (group === undefined) AppInstances.apps.set(container, (group = new AppInstances()));
    return group;
  }

  /** Adds `entry`; throws `InvalidOptionError` when its name or its store is taken in this app. */
  join(entry: InstanceEntry): void {
    for (const other of this.entries) {
      // Two unnamed imports (in two feature modules, say) were always allowed; a name is meant to be one instance.
      if (other.name === entry.name && entry.name !== DEFAULT_TRACKER_NAME) {
        throw new InvalidOptionError(
          'name',
          `SnowplowModule is imported twice as the instance "${entry.name}" in one app: ` +
            'give each import its own name (forRoot({ name })), or import it once and share it (isGlobal, or exports)',
        );
      }
      if (entry.store !== undefined && other.store === entry.store) {
        throw new InvalidOptionError(
          'storage',
          `the instances "${other.name}" and "${entry.name}" would share one outbox (${entry.store}): each would ` +
            'send what the other stores, to its own collector. Give each instance its own storage ' +
            '(another storage.table or storage.path)',
        );
      }
    }
    this.entries.push(entry);
  }

  /** Every instance's shutdown at once, the same promise for each caller; rejects after all ended if one failed. */
  shutdownAll(): Promise<void> {
    this.shuttingDown ??= Promise.allSettled(this.entries.map((entry) => entry.shutdown())).then((results) => {
      const failed = results.find((result): result is PromiseRejectedResult => result.status === 'rejected');
      if (failed) throw failed.reason;
    });
    return this.shuttingDown;
  }
}

const objectIds = new WeakMap<object, number>();
let nextObjectId = 1;

function idOf(value: object): number {
  let id = objectIds.get(value);
  if (id === undefined) objectIds.set(value, (id = nextObjectId++));
  return id;
}

/** What `storage` of the module options may be, as far as {@link storeKey} reads it. */
type StorageOption = { type?: unknown; path?: unknown; connectionString?: unknown; pool?: unknown } & Record<
  string,
  unknown
>;

/**
 * Where `storage` keeps its events, as a key two instances of one app must not share: a SQLite
 * file's absolute path; a PostgreSQL outbox's server, database, schema and table (a pool by its
 * identity); an `EventStorage` object by its identity. `undefined` in memory, and for anything
 * the options check will refuse anyway.
 */
export function storeKey(storage: unknown): string | undefined {
  if (storage === undefined || storage === null || typeof storage !== 'object') return undefined;
  const given = storage as StorageOption;
  if (given.type === 'sqlite' && typeof given.path === 'string') return `sqlite:${resolve(given.path)}`;
  if (given.type === 'postgres') {
    let table: string;
    try {
      // The store's own defaults and rules: `schema.table`.
      table = outboxNames(given as PostgresOutboxNames).channel;
    } catch {
      return undefined; // names the options check refuses at startup anyway
    }
    if (given.pool !== null && typeof given.pool === 'object') return `postgres:pool#${idOf(given.pool)}/${table}`;
    if (typeof given.connectionString === 'string') return `postgres:${serverOf(given.connectionString)}/${table}`;
    return undefined;
  }
  if (given.type === undefined || given.type === 'memory') {
    // A storage object of the caller's own (EventStorage): by identity.
    return typeof (given as { lease?: unknown }).lease === 'function' ? `store#${idOf(given)}` : undefined;
  }
  return undefined;
}

/** The server and database of a connection string, without its credentials. */
function serverOf(connectionString: string): string {
  try {
    const url = new URL(connectionString);
    return `${url.hostname}:${url.port || '5432'}${url.pathname}`;
  } catch {
    // A libpq key=value string: compared as given, but without a password.
    return connectionString.replace(/password\s*=\s*\S+/gi, '');
  }
}
