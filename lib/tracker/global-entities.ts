import { EventTooLargeError, InvalidEventError, InvalidOptionError } from '../errors';
import { describeType } from '../utils/values';
import type { EntityJson, EventData, EventLane } from './event';
import { SCHEMAS } from './schemas';
import { checkSelfDescribing, SelfDescribingJson } from './self-describing-event';

/**
 * The event a global entity is chosen for and generated from: what a generator and a `filter`
 * receive. `schema` is what `accept`/`reject` rules match: a self-describing event's own schema
 * (`com.gitlab/custom_event` for `trackEvent`), `com.gitlab/billable_usage` for a billing event,
 * and none for a plain structured event or a page view.
 */
export interface GlobalEntityEvent {
  /**
   * The wire event type: `ue` (self-describing, custom events included), `se` (structured, billing
   * included) or `pv`.
   */
  readonly eventType: 'ue' | 'se' | 'pv';
  /** The Iglu URI the rule sets match, or `undefined` for a structured event or page view. */
  readonly schema: string | undefined;
  /** `billing` for a billing event, else `custom`. */
  readonly lane: EventLane;
  /** The Snowplow event id (`eid`). */
  readonly eid: string;
  /**
   * What the event holds: the data of its `schema` (parsed when first read), or for a structured
   * event `{ category, action, label?, property?, value? }` and for a page view `{ url, title?, referrer? }`.
   */
  readonly data: Readonly<Record<string, unknown>>;
}

/** A global entity computed at track time: an entity, several, or none (`undefined`/`null`). */
export type EntityGenerator = (
  event: GlobalEntityEvent,
) => SelfDescribingJson | readonly SelfDescribingJson[] | undefined | null;

/**
 * A global entity attached only to some events. `accept` and `reject` are schema rules in
 * Snowplow's wildcard form, e.g. `iglu:com.acme/*\/jsonschema/1-*-*`, matched against the event's
 * `schema` (see `GlobalEntityEvent`): a rejected event never gets the entity; with `accept`, only
 * an event matching one of its rules does (so never a structured event or page view, which have no
 * schema); `filter`, last, must return `true`.
 */
export interface ConditionalEntity {
  /** A static entity or a generator. */
  entity: SelfDescribingJson | EntityGenerator;
  /** Rules of the schemas that get the entity (any one matching). */
  accept?: readonly string[];
  /** Rules of the schemas that never get it (any one matching); wins over `accept`. */
  reject?: readonly string[];
  /** Called with the event once the rules passed; the entity is attached when it returns `true`. */
  filter?: (event: GlobalEntityEvent) => boolean;
}

/** One entry of the tracker's `entities` option. */
export type GlobalEntity = SelfDescribingJson | EntityGenerator | ConditionalEntity;

/**
 * A global entity that could not be attached: its generator or filter threw, or it returned
 * something that is not a self-describing entity. The event was sent without it.
 */
export interface GlobalEntityFailure {
  /**
   * The entry at fault, e.g. `entities[2]`, `entities[2].filter`, or `entities[2][1]` for the
   * second entity a generator returned.
   */
  readonly path: string;
  /**
   * What was thrown, the `InvalidEventError` naming the field of the invalid entity, or (path
   * `entities`) an `EventTooLargeError` when the global entities would have made the event larger
   * than the sink's `maxEventBytes`: it was then sent without any of them.
   */
  readonly error: unknown;
  /** The lane of the event sent without it. */
  readonly lane: EventLane;
}

/** A rule part: a fixed text, or `*` for any. */
type Part = string | null;

/** A parsed schema rule: vendor parts, name, format, model, revision, addition. */
interface Rule {
  readonly vendor: readonly Part[];
  readonly rest: readonly Part[];
}

const RULE_FORM =
  'iglu:vendor/name/jsonschema/M-R-A, each of name and M, R, A a value or *, e.g. iglu:com.acme/*/jsonschema/1-*-*';
const PART = /^[a-zA-Z0-9\-_]+$/;
const NUMBER = /^(0|[1-9][0-9]*)$/;

/** A schema rule checked; errors name `field`. Vendor parts past the first two may be `*`. */
function parseRule(field: string, value: unknown): Rule {
  if (typeof value !== 'string')
    throw new InvalidOptionError(field, `must be a schema rule (${RULE_FORM}), got ${describeType(value)}`);
  const bad = (why: string) =>
    new InvalidOptionError(field, `${why} in ${JSON.stringify(value.slice(0, 200))} (a rule is ${RULE_FORM})`);
  if (!value.startsWith('iglu:')) throw bad('is missing "iglu:"');
  const parts = value.slice(5).split('/');
  if (parts.length !== 4) throw bad('needs vendor/name/format/version');
  const [vendorText, name, format, version] = parts;
  const vendor = vendorText.split('.');
  if (vendor.length < 2 || vendor.slice(0, 2).some((part) => part === '*')) {
    throw bad('needs a vendor of at least two parts, the first two not "*"');
  }
  if (vendor.some((part) => part !== '*' && !PART.test(part))) throw bad('has an invalid vendor');
  if (name !== '*' && !PART.test(name)) throw bad('has an invalid name');
  if (format !== '*' && format !== 'jsonschema') throw bad('has a format other than jsonschema or *');
  const numbers = version.split('-');
  if (numbers.length !== 3 || numbers.some((n) => n !== '*' && !NUMBER.test(n)) || numbers[0] === '0') {
    throw bad('has a version that is not M-R-A (numbers or *, the model from 1)');
  }
  const wild = (part: string): Part => (part === '*' ? null : part);
  return { vendor: vendor.map(wild), rest: [name, format, ...numbers].map(wild) };
}

/** A schema split the way rules are, or `undefined` for one that is no Iglu URI. */
function splitSchema(schema: string): { vendor: string[]; rest: string[] } | undefined {
  const parts = schema.startsWith('iglu:') ? schema.slice(5).split('/') : [];
  if (parts.length !== 4) return undefined;
  return { vendor: parts[0].split('.'), rest: [parts[1], parts[2], ...parts[3].split('-')] };
}

function matchParts(rule: readonly Part[], parts: readonly string[]): boolean {
  if (rule.length !== parts.length) return false;
  for (let i = 0; i < rule.length; i++) if (rule[i] !== null && rule[i] !== parts[i]) return false;
  return true;
}

/** Whether `schema` matches one of `rules`. */
function matchesAny(rules: readonly Rule[], schema: string): boolean {
  const split = splitSchema(schema);
  if (split === undefined) return false;
  return rules.some((rule) => matchParts(rule.vendor, split.vendor) && matchParts(rule.rest, split.rest));
}

/** Exported for the tests of rule matching: whether `schema` matches the rule `rule`. */
export function schemaMatchesRule(rule: string, schema: string): boolean {
  return matchesAny([parseRule('rule', rule)], schema);
}

/** One entry checked: its entity (static, serialised once, or a generator) and its conditions. */
interface Entry {
  readonly path: string;
  readonly entity: EntityJson | EntityGenerator;
  readonly accept?: readonly Rule[];
  readonly reject?: readonly Rule[];
  readonly filter?: (event: GlobalEntityEvent) => boolean;
}

const CONDITION_KEYS = ['entity', 'accept', 'reject', 'filter'];

/** A static entity checked at construction; errors are option errors naming `path`. */
function staticEntity(path: string, value: unknown): EntityJson {
  try {
    return checkSelfDescribing(value, path, `${path}.`);
  } catch (err) {
    if (err instanceof InvalidEventError) throw new InvalidOptionError(err.field, err.reason);
    throw err;
  }
}

function rules(path: string, value: unknown): readonly Rule[] | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value) || value.length === 0) {
    throw new InvalidOptionError(
      path,
      `must be a non-empty array of schema rules (${RULE_FORM}), got ${describeType(value)}`,
    );
  }
  return value.map((rule: unknown, i) => parseRule(`${path}[${i}]`, rule));
}

function entry(path: string, value: unknown): Entry {
  if (typeof value === 'function') return { path, entity: value as EntityGenerator };
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new InvalidOptionError(
      path,
      `must be an entity {schema, data}, a generator function or {entity, accept?, reject?, filter?}, got ${describeType(value)}`,
    );
  }
  if (!('entity' in value)) return { path, entity: staticEntity(path, value) };
  const input = value as Record<string, unknown>;
  for (const key of Object.keys(input)) {
    if (!CONDITION_KEYS.includes(key)) {
      throw new InvalidOptionError(
        `${path}.${key}`,
        `is not a key of a conditional entity (${CONDITION_KEYS.join(', ')})`,
      );
    }
  }
  const entity =
    typeof input.entity === 'function'
      ? (input.entity as EntityGenerator)
      : staticEntity(`${path}.entity`, input.entity);
  if (input.filter !== undefined && typeof input.filter !== 'function') {
    throw new InvalidOptionError(
      `${path}.filter`,
      `must be a function of the event, got ${describeType(input.filter)}`,
    );
  }
  return {
    path,
    entity,
    accept: rules(`${path}.accept`, input.accept),
    reject: rules(`${path}.reject`, input.reject),
    filter: input.filter as Entry['filter'],
  };
}

/**
 * The tracker's `entities` option, checked once at construction: static entities are serialised
 * then, rules parsed. `undefined` when there are none, so that a tracker without global entities
 * pays nothing for them.
 */
export class GlobalEntities {
  private constructor(private readonly entries: readonly Entry[]) {}

  /** The option checked (errors are `InvalidOptionError`s naming `entities[i]...`), or `undefined` for none. */
  static of(value: unknown): GlobalEntities | undefined {
    if (value === undefined || value === null) return undefined;
    if (!Array.isArray(value)) {
      throw new InvalidOptionError(
        'entities',
        `must be an array of entities, generators or {entity, accept?, reject?, filter?}, got ${describeType(value)}`,
      );
    }
    const entries: Entry[] = [];
    for (let i = 0; i < value.length; i++) {
      if (!(i in value)) throw new InvalidOptionError(`entities[${i}]`, 'is a hole');
      entries.push(entry(`entities[${i}]`, value[i]));
    }
    return entries.length === 0 ? undefined : new GlobalEntities(entries);
  }

  /**
   * The entities `event` gets, in the option's order. A generator or filter that throws, or an
   * invalid generated entity, is left out and told to `failed`; this never throws.
   */
  collect(event: GlobalEntityEvent, failed: (failure: GlobalEntityFailure) => void): EntityJson[] {
    const out: EntityJson[] = [];
    for (const { path, entity, accept, reject, filter } of this.entries) {
      if (reject !== undefined || accept !== undefined) {
        const schema = event.schema;
        if (reject !== undefined && schema !== undefined && matchesAny(reject, schema)) continue;
        if (accept !== undefined && (schema === undefined || !matchesAny(accept, schema))) continue;
      }
      if (filter !== undefined) {
        let keep: unknown;
        try {
          keep = filter(event);
        } catch (error) {
          failed({ path: `${path}.filter`, error, lane: event.lane });
          continue;
        }
        if (keep !== true) continue;
      }
      if (typeof entity !== 'function') {
        out.push(entity);
        continue;
      }
      let made: unknown;
      try {
        made = entity(event);
      } catch (error) {
        failed({ path, error, lane: event.lane });
        continue;
      }
      if (made === undefined || made === null) continue;
      if (Array.isArray(made)) {
        for (let i = 0; i < made.length; i++) generated(`${path}[${i}]`, made[i], event.lane, out, failed);
      } else {
        generated(path, made, event.lane, out, failed);
      }
    }
    return out;
  }
}

/** A generated entity checked and added to `out`, or told to `failed`. */
function generated(
  path: string,
  value: unknown,
  lane: EventLane,
  out: EntityJson[],
  failed: (failure: GlobalEntityFailure) => void,
): void {
  try {
    out.push(checkSelfDescribing(value, path, `${path}.`));
  } catch (error) {
    failed({ path, error, lane });
  }
}

/** The view of an event that generators and filters get; `data` is parsed on first read. */
export class EntityEventView implements GlobalEntityEvent {
  private parsed: Readonly<Record<string, unknown>> | undefined;

  constructor(
    readonly lane: EventLane,
    readonly eid: string,
    private readonly event: EventData,
    /** A billing event's billable_usage data text (its schema is then billable_usage). */
    private readonly billingJson?: string,
  ) {}

  get eventType(): 'ue' | 'se' | 'pv' {
    return this.event.type;
  }

  get schema(): string | undefined {
    if (this.billingJson !== undefined) return SCHEMAS.billableUsage;
    return this.event.type === 'ue' ? this.event.schema : undefined;
  }

  get data(): Readonly<Record<string, unknown>> {
    if (this.parsed === undefined) this.parsed = Object.freeze(this.read());
    return this.parsed;
  }

  private read(): Record<string, unknown> {
    if (this.billingJson !== undefined) return JSON.parse(this.billingJson) as Record<string, unknown>;
    const event = this.event;
    switch (event.type) {
      case 'ue':
        return JSON.parse(event.json) as Record<string, unknown>;
      case 'se': {
        const { category, action, label, property, value } = event;
        return dropUndefined({
          category,
          action,
          label,
          property,
          value: value === undefined ? undefined : Number(value),
        });
      }
      case 'pv':
        return dropUndefined({ url: event.url, title: event.title, referrer: event.referrer });
    }
  }
}

function dropUndefined(fields: Record<string, unknown>): Record<string, unknown> {
  for (const key of Object.keys(fields)) if (fields[key] === undefined) delete fields[key];
  return fields;
}

const DEFAULT_LOG_INTERVAL_MS = 10_000;

/**
 * The core tracker's default report of a global-entity failure, without an `onEntityError`
 * option: a warning on the console at most once per 10 s, with the count of those left out.
 */
export function defaultEntityErrorLog(
  warn: (message: string) => void = (message) => console.warn(message),
  intervalMs = DEFAULT_LOG_INTERVAL_MS,
): (failure: GlobalEntityFailure) => void {
  let lastAt = -Infinity;
  let suppressed = 0;
  return (failure) => {
    const now = Date.now();
    if (now - lastAt < intervalMs) {
      suppressed++;
      return;
    }
    const more = suppressed ? ` (${suppressed} more since the last report)` : '';
    lastAt = now;
    suppressed = 0;
    warn(`nestjs-snowplow: ${describeEntityFailure(failure)}; the event was sent without it${more}`);
  };
}

/** `entities[2] threw TypeError: boom`, or the invalid field and why. */
export function describeEntityFailure({ path, error }: GlobalEntityFailure): string {
  if (error instanceof EventTooLargeError) {
    return `global entities left out: with them the event would take ${error.bytes} bytes, over maxEventBytes (${error.maxEventBytes})`;
  }
  if (error instanceof InvalidEventError) return `global entity ${path} is invalid: "${error.field}" ${error.reason}`;
  const what = error instanceof Error ? `${error.name}: ${error.message}` : describeType(error);
  return `global entity ${path} threw ${what}`;
}
