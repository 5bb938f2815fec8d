/**
 * The catalogue a tracker uses when none is given: any Iglu URI, with any JSON object as data.
 * `Tracker` and `TrackerService` without a type argument check only what the run-time checks do.
 */
export interface AnySchemas {
  /** Any Iglu URI: any JSON object. */
  [schema: string]: Record<string, unknown>;
}

/**
 * A self-describing event of the schema `K` of a catalogue `S` (see `SelfDescribingOf`): what
 * `trackSelfDescribingEvent` takes. `K` is inferred from the `schema` given, so the compiler checks
 * `data` against that schema's type alone: a missing required field is error TS2741, a field of
 * the wrong type TS2322, a schema outside the catalogue TS2322 (or TS2820) on `schema`.
 */
export interface SelfDescribingEventOf<S, K extends SchemaOf<S> = SchemaOf<S>> {
  /** The Iglu URI of the schema `data` follows, e.g. `iglu:com.acme/checkout/jsonschema/1-0-0`. */
  schema: K;
  /** The data: a plain object whose JSON text is an object. */
  data: DataOf<S, K>;
}

/**
 * The Iglu URIs of a catalogue `S`: its string keys; any string for a catalogue without any (a
 * `TrackerService` whose type argument was erased, as `app.get(TrackerService)` gives it, stays
 * loose instead of refusing every schema).
 */
export type SchemaOf<S> = [keyof S & string] extends [never] ? string : keyof S & string;

/** The data type of schema `K` in catalogue `S`; any JSON object when `S` does not list it. */
export type DataOf<S, K extends string> = K extends keyof S ? S[K] : Record<string, unknown>;

/**
 * A self-describing JSON of a schema catalogue `S`: for each Iglu URI key of `S`, `{ schema, data }`
 * with `data` of that key's type. A union over the catalogue, discriminated by `schema`, so the
 * compiler checks `data` against the schema named (a missing required field, a wrong type, an
 * unknown key of an object literal or an URI outside the catalogue is a compile error).
 *
 * A catalogue is an interface (or type) from Iglu URI to data type, written by hand or generated
 * by `nestjs-snowplow-types`:
 *
 * @example
 * ```ts
 * interface SnowplowSchemas {
 *   'iglu:com.acme/checkout/jsonschema/1-0-0': { readonly orderId: string; readonly total: number };
 *   'iglu:com.acme/cart/jsonschema/1-0-0': { readonly items: number };
 * }
 * const tracker = new Tracker<SnowplowSchemas>({ appId: 'shop', emitter });
 * ```
 */
export type SelfDescribingOf<S> = {
  [K in SchemaOf<S>]: {
    /** The Iglu URI of the schema `data` follows. */
    schema: K;
    /** The data: a plain object whose JSON text is an object. */
    data: DataOf<S, K>;
  };
}[SchemaOf<S>];
