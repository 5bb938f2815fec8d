/**
 * Base class of every error this library throws on purpose. `code` is stable across versions, so
 * callers can branch on it instead of on the message; `name` is the class name.
 *
 * @example
 * ```ts
 * try {
 *   tracker.trackBillingEvent(input);
 * } catch (err) {
 *   if (err instanceof SnowplowError && err.code === 'INVALID_EVENT') return badRequest(err.message);
 *   throw err;
 * }
 * ```
 */
export class SnowplowError extends Error {
  constructor(
    message: string,
    /** A stable identifier of what went wrong, e.g. `INVALID_EVENT`. */
    readonly code: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** An event could not be built from what the caller passed; `field` names the culprit. Code `INVALID_EVENT`. */
export class InvalidEventError extends SnowplowError {
  constructor(
    /** The input field at fault, e.g. `quantity`. */
    readonly field: string,
    /** Why the value was refused, e.g. `must be finite, got Infinity`. */
    readonly reason: string,
    code = 'INVALID_EVENT',
  ) {
    super(`Invalid event field "${field}": ${reason}`, code);
  }
}

/**
 * Strict mode (the tracker's `validate` option, for development and tests): the event's data or
 * an entity does not match its local Iglu schema, or names a schema the local folders do not
 * hold. `field` is the JSON path at fault, e.g. `event.data.total` or `entities[1].data.items`
 * (entities counted as sent, a billing event's `billable_usage` first). Nothing was queued. Code
 * `SCHEMA_VALIDATION_FAILED`.
 */
export class SchemaValidationError extends InvalidEventError {
  constructor(
    field: string,
    /** The Iglu URI the data was checked against. */
    readonly schema: string,
    /** Every mismatch ajv found: `path` (a JSON pointer into the data), `keyword`, `message`. */
    readonly problems: readonly { path: string; keyword: string; message: string }[],
    reason: string,
  ) {
    super(field, reason, 'SCHEMA_VALIDATION_FAILED');
  }
}

/** The serialised event is larger than `maxEventBytes`; it was not queued. Code `EVENT_TOO_LARGE`. */
export class EventTooLargeError extends InvalidEventError {
  constructor(
    /** The event's serialised size. */
    readonly bytes: number,
    /** The limit it exceeded. */
    readonly maxEventBytes: number,
  ) {
    super('event', `serialised size ${bytes} bytes exceeds maxEventBytes (${maxEventBytes})`, 'EVENT_TOO_LARGE');
  }
}

/** A configuration value is missing or wrong; `option` names it. Code `INVALID_OPTION`. */
export class InvalidOptionError extends SnowplowError {
  constructor(
    /** The option at fault, e.g. `batchSize` or `storage.path`. */
    readonly option: string,
    reason: string,
    code = 'INVALID_OPTION',
  ) {
    super(`Invalid Snowplow option "${option}": ${reason}`, code);
  }
}

/**
 * The collector URL is not an absolute http(s) URL. Never contains the URL's credentials. Code
 * `INVALID_COLLECTOR_URL`.
 */
export class InvalidCollectorUrlError extends InvalidOptionError {
  constructor(option: string, reason: string) {
    super(option, reason, 'INVALID_COLLECTOR_URL');
  }
}

/** The emitter was stopped (application shutdown); no more events are accepted. Code `EMITTER_STOPPED`. */
export class EmitterStoppedError extends SnowplowError {
  constructor() {
    super('The Snowplow emitter is stopped and accepts no more events', 'EMITTER_STOPPED');
  }
}

/**
 * The dead-letter file is a symbolic link. It is refused (opened with `O_NOFOLLOW`), so billing
 * records never land in a file the link points to; the target is left untouched. Code
 * `DEAD_LETTER_SYMLINK`.
 */
export class DeadLetterSymlinkError extends SnowplowError {
  constructor(
    /** The dead-letter path (absolute). */
    readonly path: string,
  ) {
    super(
      'Snowplow dead-letter file refused: it is a symbolic link, and billing records never go to the file ' +
        `a link points to (set deadLetter.path to the real file): ${path}`,
      'DEAD_LETTER_SYMLINK',
    );
  }
}

/**
 * The dead-letter file exists as a regular file that its group or others may access: refused,
 * since its lines hold billing data and user ids. `mode` is the file's permission bits. Code
 * `DEAD_LETTER_MODE`.
 */
export class DeadLetterModeError extends SnowplowError {
  constructor(
    /** The dead-letter path (absolute). */
    readonly path: string,
    /** The file's permission bits, e.g. `0o644`. */
    readonly mode: number,
  ) {
    const octal = `0${(mode & 0o777).toString(8).padStart(3, '0')}`;
    super(
      `Snowplow dead-letter file refused: it has mode ${octal}, so its group or others may access it, and its ` +
        `lines hold billing data (chmod it to 600, or choose another path): ${path}`,
      'DEAD_LETTER_MODE',
    );
  }
}

/**
 * An optional peer dependency that a feature needs is not installed, or cannot be loaded; the
 * message gives the install command. Code `MISSING_DEPENDENCY`.
 */
export class MissingDependencyError extends SnowplowError {
  constructor(
    /** The package to install. */
    readonly packageName: string,
    feature: string,
    install: string,
    detail?: string,
  ) {
    super(
      `${feature} needs the package "${packageName}", which ${detail ?? 'is not installed'}: run \`${install}\``,
      'MISSING_DEPENDENCY',
    );
  }
}

/** The durable event store could not be opened or used; `path` names the file. Code `STORAGE_FAILED`. */
export class StorageError extends SnowplowError {
  constructor(
    /** The file at fault. */
    readonly path: string,
    reason: string,
    code = 'STORAGE_FAILED',
  ) {
    super(`Snowplow event store ${path}: ${reason}`, code);
  }
}

/** Another process holds the event store file. Code `STORAGE_LOCKED`. */
export class StorageLockedError extends StorageError {
  constructor(path: string, reason: string, code = 'STORAGE_LOCKED') {
    super(path, reason, code);
  }
}

/**
 * A shared event store file stayed locked by another process longer than `lockTimeoutMs`: the
 * event was not stored. Retry the business operation, or fail it. Code `STORAGE_BUSY`.
 */
export class StorageBusyError extends StorageLockedError {
  constructor(path: string, reason: string) {
    super(path, reason, 'STORAGE_BUSY');
  }
}

/** The disk (or file system) of the event store is full (`SQLITE_FULL`): nothing was stored. Code `STORAGE_FULL`. */
export class StorageFullError extends StorageError {
  constructor(path: string, reason: string) {
    super(path, reason, 'STORAGE_FULL');
  }
}

/** Reading or writing the event store file failed (`SQLITE_IOERR`): nothing was stored. Code `STORAGE_IO`. */
export class StorageIoError extends StorageError {
  constructor(path: string, reason: string) {
    super(path, reason, 'STORAGE_IO');
  }
}

/**
 * A billing event found the billing lane full (`billing.capacity` events waiting) on a durable
 * store, and its `overflow` dead-letter line could not be put on disk (the write failed, or no
 * `deadLetter` file is set): it is stored nowhere, so the call throws. Retry the business
 * operation once the collector catches up, or fail it. Code `BILLING_QUEUE_FULL`.
 */
export class BillingQueueFullError extends StorageError {
  constructor(
    path: string,
    /** The billing lane's capacity (`billing.capacity`). */
    readonly capacity: number,
    reason: string,
  ) {
    super(path, `the billing queue is full (billing.capacity ${capacity}) and ${reason}`, 'BILLING_QUEUE_FULL');
  }
}

/**
 * The database of the event store could not be reached, or refused the write, for longer than
 * `commitTimeoutMs`: the events of that write were not stored (each is logged with its payload
 * and counted). Retry the business operation, or fail it. Code `STORAGE_UNAVAILABLE`.
 */
export class StorageUnavailableError extends StorageError {
  constructor(location: string, reason: string) {
    super(location, reason, 'STORAGE_UNAVAILABLE');
  }
}

/**
 * The write-behind buffer of a database event store is full (`maxBufferedEvents` events not yet
 * committed, for example during a database outage): the event was not taken. Code
 * `STORAGE_BUFFER_FULL`.
 */
export class StorageBufferFullError extends StorageError {
  constructor(
    location: string,
    /** The buffer's bound (`maxBufferedEvents`). */
    readonly limit: number,
  ) {
    super(
      location,
      `the write-behind buffer is full (${limit} events not yet committed; is the database reachable?)`,
      'STORAGE_BUFFER_FULL',
    );
  }
}

/**
 * The connection to the database dropped after COMMIT was sent and before its answer came: the
 * events of that write may or may not be stored. Do not retry blindly; a retry that reuses the
 * same event id is refused by the table if the first write did commit. Code
 * `STORAGE_COMMIT_UNKNOWN`.
 */
export class StorageCommitUnknownError extends StorageError {
  constructor(location: string, reason: string) {
    super(location, reason, 'STORAGE_COMMIT_UNKNOWN');
  }
}

/** The event store file is not a readable SQLite database. It is left untouched. Code `STORAGE_CORRUPT`. */
export class StorageCorruptError extends StorageError {
  constructor(path: string, reason: string) {
    super(path, reason, 'STORAGE_CORRUPT');
  }
}

/**
 * `nestjs-snowplow-types` was run with a command line it cannot run; `flag` names the flag at
 * fault (e.g. `--iglu`). Code `SCHEMA_TYPES_USAGE`.
 */
export class SchemaTypesUsageError extends SnowplowError {
  constructor(
    /** The flag at fault, e.g. `--iglu`. */
    readonly flag: string,
    reason: string,
  ) {
    super(`nestjs-snowplow-types ${flag}: ${reason}`, 'SCHEMA_TYPES_USAGE');
  }
}

/**
 * `nestjs-snowplow-types` cannot use a folder or schema file it was given: not a readable Iglu
 * folder, a file that is no schema, or one json-schema-to-typescript cannot convert; `file`
 * names it. Code `SCHEMA_TYPES_SOURCE`.
 */
export class SchemaTypesSourceError extends SnowplowError {
  constructor(
    /** The folder or schema file at fault. */
    readonly file: string,
    reason: string,
  ) {
    super(`nestjs-snowplow-types: ${file}: ${reason}`, 'SCHEMA_TYPES_SOURCE');
  }
}
