import {
  base64Length,
  encodeBase64,
  EventKind,
  PayloadWriter,
  serialiseFields,
  TrackedPayload,
  utf8Length,
} from './payload';
import { SCHEMAS } from './schemas';
import type { SubjectFields } from './subject';

/** The lane an event waits in: the tracker sets it, nothing infers it (see `legacyLane`). */
export type EventLane = EventKind;

/** A self-describing JSON checked at track time: its Iglu URI and its data's JSON text, as sent. */
export interface EntityJson {
  readonly schema: string;
  readonly json: string;
}

/** A self-describing event (`e=ue`): its schema and its data's JSON text. */
export interface SelfDescribingData {
  readonly type: 'ue';
  readonly schema: string;
  readonly json: string;
}

/** A structured event (`e=se`): its fields as sent; unset ones are left out. */
export interface StructData {
  readonly type: 'se';
  readonly category: string;
  readonly action: string;
  readonly label?: string;
  readonly property?: string;
  /** The value's decimal text. */
  readonly value?: string;
}

/** A page view (`e=pv`). */
export interface PageViewData {
  readonly type: 'pv';
  readonly url: string;
  readonly title?: string;
  readonly referrer?: string;
}

/** What an event is, by type: its wire form's type-specific fields are written from it. */
export type EventData = SelfDescribingData | StructData | PageViewData;

/** What the options of a track call add to an event, checked. */
export interface EventAdditions {
  /** Attached as `cx`, in this order. */
  readonly entities: readonly EntityJson[];
  /** The tracker's subject with the event's over it. */
  readonly subject: SubjectFields | undefined;
  /** `ttm`, ms since the epoch. */
  readonly trueTimestamp: number | undefined;
  /** The `dtm` sent instead of the track time, ms since the epoch. */
  readonly deviceTimestamp: number | undefined;
}

/**
 * The intermediate event every track method builds: what it is (`data`), what it carries
 * (entities, subject, timestamps) and its lane, all checked. Its wire form, the payload_data item
 * without `stm`, is written from it by {@link encodeEvent}, and from nothing else.
 */
export interface TrackerEvent extends EventAdditions {
  /** Billing events wait in a lane of their own; only the billing methods set `billing`. */
  readonly lane: EventLane;
  /** The Snowplow event id (uuid v4). */
  readonly eid: string;
  /** Track time, ms since the epoch: the `dtm` sent unless `deviceTimestamp`, and the event's age in the queue. */
  readonly trackedAt: number;
  readonly data: EventData;
}

/** No entities: shared, never written to. */
export const NO_ENTITIES: readonly EntityJson[] = Object.freeze([]);

/*
 * The objects below are written out field by field, never as `{ ...additions, lane, ... }`: V8
 * (node 20) gives every object made by a spread followed by keys the source lacks a hidden class
 * of its own, built on the spot (about 10 µs and a new map per event, and the maps fill the old
 * space). With the spreads, `trackSelfDescribingEvent` with two entities counted ~95,000
 * instructions per call in `npm run bench:instructions`; without them ~48,000.
 */

/** The event of `data`, tracked at `trackedAt`, with what the options added. */
export function trackerEvent(
  lane: EventLane,
  eid: string,
  trackedAt: number,
  data: EventData,
  additions: EventAdditions,
): TrackerEvent {
  return {
    lane,
    eid,
    trackedAt,
    data,
    entities: additions.entities,
    subject: additions.subject,
    trueTimestamp: additions.trueTimestamp,
    deviceTimestamp: additions.deviceTimestamp,
  };
}

/** `additions` with other entities. */
export function withEntities(additions: EventAdditions, entities: readonly EntityJson[]): EventAdditions {
  return {
    entities,
    subject: additions.subject,
    trueTimestamp: additions.trueTimestamp,
    deviceTimestamp: additions.deviceTimestamp,
  };
}

/** The event's type-specific fields, serialised (never empty). */
function dataFields(data: EventData): string {
  switch (data.type) {
    case 'ue':
      return `"ue_px":"${encodeBase64(unstructText(data.schema, data.json))}"`;
    case 'se':
      return serialiseFields([
        ['se_ca', data.category],
        ['se_ac', data.action],
        ['se_la', data.label],
        ['se_pr', data.property],
        ['se_va', data.value],
      ]);
    case 'pv':
      return serialiseFields([
        ['url', data.url],
        ['page', data.title],
        ['refr', data.referrer],
      ]);
  }
}

/** The unstruct_event wrapper around a self-describing event's data. */
export function unstructText(schema: string, json: string): string {
  return `{"schema":"${SCHEMAS.unstructEvent}","data":{"schema":"${schema}","data":${json}}}`;
}

/** The contexts wrapper around entities, in order. */
export function contextsText(entities: readonly EntityJson[]): string {
  let items = '';
  for (const { schema, json } of entities) items += `${items ? ',' : ''}{"schema":"${schema}","data":${json}}`;
  return `{"schema":"${SCHEMAS.contexts}","data":[${items}]}`;
}

/**
 * The wire form of `event`: `e`, `eid`, `dtm`, the tracker's fields (`p` and `ua` from the
 * subject when it sets them), the type's fields, `cx`, `ttm`, then the other subject fields.
 */
export function encodeEvent(writer: PayloadWriter, event: TrackerEvent): string {
  let fields = dataFields(event.data);
  if (event.entities.length > 0) fields += `,"cx":"${encodeBase64(contextsText(event.entities))}"`;
  if (event.trueTimestamp !== undefined) fields += `,"ttm":"${event.trueTimestamp}"`;
  const dtm = event.deviceTimestamp ?? event.trackedAt;
  return writer.textWith(event.data.type, event.eid, dtm, fields, event.subject);
}

/** The event as the sink takes it, written now: its lane, id, track time and wire form. */
export function toPayload(writer: PayloadWriter, event: TrackerEvent): TrackedPayload {
  return { kind: event.lane, eid: event.eid, dtm: event.trackedAt, json: encodeEvent(writer, event) };
}

/** `"ue_px":"` and the closing quote around the base64 text. */
const UE_PX_BYTES = '"ue_px":"'.length + 1;
/** `,"cx":"` and the closing quote. */
const CX_BYTES = ',"cx":"'.length + 1;
/** `,"ttm":"` and the closing quote. */
const TTM_BYTES = ',"ttm":"'.length + 1;
/** `unstructText`'s own characters (ASCII). */
const UNSTRUCT_BYTES = unstructText('', '').length;
/** `contextsText`'s own characters without entities, and each entity's (ASCII). */
const CONTEXTS_BYTES = contextsText(NO_ENTITIES).length;
const ENTITY_BYTES = '{"schema":"","data":}'.length;

/**
 * The body bytes of `encodeEvent(writer, event)` (see `bodyBytes`), measured without encoding:
 * the base64 fields from the UTF-8 size of their JSON, the rest as `encodeEvent` writes it. Iglu
 * URIs are ASCII (`igluUri` checks every one that is not the library's own).
 */
export function eventBytes(writer: PayloadWriter, event: TrackerEvent): number {
  const { data, entities } = event;
  let fields =
    data.type === 'ue'
      ? UE_PX_BYTES + base64Length(UNSTRUCT_BYTES + data.schema.length + utf8Length(data.json))
      : utf8Length(dataFields(data));
  if (entities.length > 0) {
    let contexts = CONTEXTS_BYTES + entities.length - 1;
    for (const { schema, json } of entities) contexts += ENTITY_BYTES + schema.length + utf8Length(json);
    fields += CX_BYTES + base64Length(contexts);
  }
  if (event.trueTimestamp !== undefined) fields += TTM_BYTES + String(event.trueTimestamp).length;
  const dtm = event.deviceTimestamp ?? event.trackedAt;
  return writer.bytesOfWith(data.type, event.eid, dtm, fields, event.subject);
}

/**
 * A tracked event as it waits in the queue (any but a billing event, and but `trackEvent`'s
 * without options, a `CustomEventPayload`): everything it carries, checked and taken when it was
 * tracked (its data's and entities' JSON text, the subject's fields as wire texts, the
 * timestamps), and its wire form, with the base64 `ue_px` and `cx`, written only when it is read
 * (when the event is sent, or written to a durable store). Its `bytes` are known without encoding.
 * The emitter queues this object as it is.
 */
export class EventPayload implements TrackedPayload, TrackerEvent {
  readonly entities: readonly EntityJson[];
  readonly subject: SubjectFields | undefined;
  readonly trueTimestamp: number | undefined;
  readonly deviceTimestamp: number | undefined;
  readonly bytes: number;
  /** Failed send attempts (the emitter queues this object as it is). */
  attempts = 0;

  constructor(
    private readonly writer: PayloadWriter,
    readonly lane: EventLane,
    readonly eid: string,
    readonly trackedAt: number,
    readonly data: EventData,
    additions: EventAdditions,
  ) {
    // Field by field, not a spread (see `trackerEvent`).
    this.entities = additions.entities;
    this.subject = additions.subject;
    this.trueTimestamp = additions.trueTimestamp;
    this.deviceTimestamp = additions.deviceTimestamp;
    this.bytes = eventBytes(writer, this);
  }

  /** The lane. */
  get kind(): EventLane {
    return this.lane;
  }

  /** The track time (the queue's age limits count from it). */
  get dtm(): number {
    return this.trackedAt;
  }

  /** The payload_data item, written now. */
  get json(): string {
    return encodeEvent(this.writer, this);
  }
}
