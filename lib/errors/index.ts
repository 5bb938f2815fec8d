/** Base class of every error this library throws on purpose. */
export class SnowplowError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** An event could not be built from what the caller passed; `field` names the culprit. */
export class InvalidEventError extends SnowplowError {
  constructor(
    readonly field: string,
    reason: string,
  ) {
    super(`Invalid event field "${field}": ${reason}`);
  }
}

/** The serialised event is larger than `maxEventBytes`; it was not queued. */
export class EventTooLargeError extends InvalidEventError {
  constructor(
    readonly bytes: number,
    readonly maxEventBytes: number,
  ) {
    super('event', `serialised size ${bytes} bytes exceeds maxEventBytes (${maxEventBytes})`);
  }
}

/** A configuration value is missing or wrong; `option` names it. */
export class InvalidOptionError extends SnowplowError {
  constructor(
    readonly option: string,
    reason: string,
  ) {
    super(`Invalid Snowplow option "${option}": ${reason}`);
  }
}

/** The collector URL is not an absolute http(s) URL. Never contains the URL's password. */
export class InvalidCollectorUrlError extends InvalidOptionError {
  constructor(option: string, reason: string) {
    super(option, reason);
  }
}

/** The emitter was stopped (application shutdown); no more events are accepted. */
export class EmitterStoppedError extends SnowplowError {
  constructor() {
    super('The Snowplow emitter is stopped and accepts no more events');
  }
}

/** An optional peer dependency that a feature needs is not installed. */
export class MissingDependencyError extends SnowplowError {
  constructor(
    readonly packageName: string,
    feature: string,
    install: string,
  ) {
    super(`${feature} needs the package "${packageName}", which is not installed: run \`${install}\``);
  }
}

/** The durable event store could not be opened or used; `path` names the file. */
export class StorageError extends SnowplowError {
  constructor(
    readonly path: string,
    reason: string,
  ) {
    super(`Snowplow event store ${path}: ${reason}`);
  }
}

/** Another process holds the event store file. */
export class StorageLockedError extends StorageError {}

/** The event store file is not a readable SQLite database. It is left untouched. */
export class StorageCorruptError extends StorageError {}
