import { EventAdditions, StructData, TrackerEvent, trackerEvent, withEntities } from './event';
import { SCHEMAS } from './schemas';
import {
  BillingRealm,
  optionalId,
  optionalJsonObject,
  optionalString,
  optionalStrings,
  requiredInputObject,
  requiredQuantity,
  requiredRealm,
  requiredText,
} from '../validation';

export { BILLING_REALMS } from '../validation';
export type { BillingRealm } from '../validation';

/** The fields every billing event needs. */
export interface BillingEventRequiredInput {
  /** `se_ca` of the structured event. */
  category: string;
  /** `se_ac` of the structured event and `event_type` of the billable_usage entity. */
  eventType: string;
  /** The deployment the usage happened on: `SaaS`, `Dedicated` or `SM`. */
  realm: BillingRealm;
  /** What `quantity` counts, e.g. `minute`, `seat`, `token`. */
  unitOfMeasure: string;
  /** A finite number greater than 0. */
  quantity: number;
}

/**
 * Optional billable_usage fields; unset or empty ones are left out of the event, and so are ids
 * that are 0 (labkit's `omitempty`).
 */
export interface BillingEventOptionalInput {
  /** The GitLab instance id. */
  instanceId?: string;
  /** The GitLab version of the instance. */
  instanceVersion?: string;
  /** The unique instance id. */
  uniqueInstanceId?: string;
  /** The host name of the instance. */
  hostName?: string;
  /** A non-negative safe integer; 0 is left out. */
  projectId?: number;
  /** A non-negative safe integer; 0 is left out. */
  namespaceId?: number;
  /** A non-negative safe integer; 0 is left out. */
  organizationId?: number;
  /** A non-negative safe integer; 0 is left out. */
  rootNamespaceId?: number;
  /** Who or what the usage is billed to, e.g. `user:1`. */
  subject?: string;
  /** The global user id. */
  globalUserId?: string;
  /** Strings at every index (no holes); a plain copy is sent. */
  seatIds?: string[];
  /** Ties the event to a request or job (the request's id by default in Nest, see Correlation). */
  correlationId?: string;
  /** The deployment type, e.g. `saas`. */
  deploymentType?: string;
  /** Strings at every index (no holes); a plain copy is sent. */
  assignments?: string[];
  /** The id of the billed entity. */
  entityId?: string;
  /** A plain object that serialises to a JSON object; that JSON text is sent. */
  metadata?: Record<string, unknown>;
}

type Check = (field: string, value: unknown) => unknown;

/** Each optional input field except metadata, its wire name and its rule, in the order they are written. */
const OPTIONAL_FIELDS: ReadonlyArray<readonly [keyof BillingEventOptionalInput, string, Check]> = [
  ['instanceId', 'instance_id', optionalString],
  ['instanceVersion', 'instance_version', optionalString],
  ['uniqueInstanceId', 'unique_instance_id', optionalString],
  ['hostName', 'host_name', optionalString],
  ['projectId', 'project_id', optionalId],
  ['namespaceId', 'namespace_id', optionalId],
  ['organizationId', 'organization_id', optionalId],
  ['rootNamespaceId', 'root_namespace_id', optionalId],
  ['subject', 'subject', optionalString],
  ['globalUserId', 'global_user_id', optionalString],
  ['seatIds', 'seat_ids', optionalStrings],
  ['correlationId', 'correlation_id', optionalString],
  ['deploymentType', 'deployment_type', optionalString],
  ['assignments', 'assignments', optionalStrings],
  ['entityId', 'entity_id', optionalString],
];

export interface BillingEventFields {
  category: string;
  eventType: string;
  quantity: number;
  /** The billable_usage entity's data, JSON text. */
  entity: string;
  /** The length of the `correlation_id` sent, when one is. */
  correlationIdLength?: number;
}

/** Gives the correlation id of a billing event that has none of its own (e.g. the current request's). */
export type CorrelationIdSource = () => string | undefined;

const NO_OPTIONAL_INPUT: Readonly<Record<string, unknown>> = Object.freeze({});

/** The required fields checked, as a plain copy of what is sent. */
export function checkRequiredInput(required: unknown): BillingEventRequiredInput {
  const input = requiredInputObject('required', required);
  return {
    category: requiredText(input, 'category'),
    eventType: requiredText(input, 'eventType'),
    realm: requiredRealm(input),
    unitOfMeasure: requiredText(input, 'unitOfMeasure'),
    quantity: requiredQuantity(input.quantity),
  };
}

/**
 * The optional fields checked, as a plain copy of what is sent (under the input's names): unset,
 * empty and zero fields are left out, arrays are copied and metadata is what its JSON text gives.
 */
export function checkOptionalInput(optional: unknown): BillingEventOptionalInput {
  const copy: Record<string, unknown> = {};
  if (optional === undefined || optional === null) return copy;
  const opt = requiredInputObject('optional', optional);
  for (const [field, , check] of OPTIONAL_FIELDS) {
    const value = check(field, opt[field]);
    if (value !== undefined) copy[field] = value;
  }
  const metadata = optionalJsonObject('metadata', opt.metadata);
  if (metadata !== undefined) copy.metadata = JSON.parse(metadata);
  return copy;
}

/**
 * Validates the inputs and builds the billable_usage context for the given event id and time. A
 * missing or empty `correlationId` is taken from `correlationId` when one is given and it has one.
 * With `withoutCorrelationId`, the event carries none (the input's is still validated).
 */
export function buildBillingEvent(
  required: BillingEventRequiredInput,
  optional: BillingEventOptionalInput | undefined,
  eventId: string,
  dtm: number,
  correlationId?: CorrelationIdSource,
  withoutCorrelationId = false,
): BillingEventFields {
  const { category, eventType, realm, unitOfMeasure, quantity } = checkRequiredInput(required);

  const entity: Record<string, unknown> = {
    event_id: eventId,
    event_type: eventType,
    realm,
    unit_of_measure: unitOfMeasure,
    quantity,
    timestamp: new Date(dtm).toISOString(),
  };
  const opt =
    optional === undefined || optional === null ? NO_OPTIONAL_INPUT : requiredInputObject('optional', optional);
  let correlationIdLength: number | undefined;
  for (const [field, wire, check] of OPTIONAL_FIELDS) {
    let value = check(field, opt[field]);
    if (field === 'correlationId') {
      if (value === undefined && correlationId !== undefined && !withoutCorrelationId) {
        value = defaultCorrelationId(correlationId);
      }
      if (withoutCorrelationId) value = undefined;
      else if (value !== undefined) correlationIdLength = (value as string).length;
    }
    if (value !== undefined) entity[wire] = value;
  }
  const metadata = optionalJsonObject('metadata', opt.metadata);
  // The entity holds only strings, numbers and plain string arrays; metadata, last, is spliced in
  // as the JSON text that was validated, so it is serialised exactly once.
  let data = JSON.stringify(entity);
  if (metadata !== undefined) data = `${data.slice(0, -1)},"metadata":${metadata}}`;
  const fields: BillingEventFields = { category, eventType, quantity, entity: data };
  if (correlationIdLength !== undefined) fields.correlationIdLength = correlationIdLength;
  return fields;
}

/** The id `source` gives, when it is a non-empty string. */
function defaultCorrelationId(source: CorrelationIdSource): string | undefined {
  const id = source();
  return typeof id === 'string' && id !== '' ? id : undefined;
}

/**
 * The billing event: a structured event (`se_ca` the category, `se_ac` the event type, `se_la`
 * the billing event id, `se_va` the quantity) carrying the billable_usage entity first, then the
 * caller's entities. The only builder of the billing lane.
 */
export function billingEvent(
  billing: BillingEventFields,
  eventId: string,
  eid: string,
  dtm: number,
  additions: EventAdditions,
): TrackerEvent {
  const data: StructData = {
    type: 'se',
    category: billing.category,
    action: billing.eventType,
    label: eventId,
    value: String(billing.quantity),
  };
  const entities = [{ schema: SCHEMAS.billableUsage, json: billing.entity }, ...additions.entities];
  return trackerEvent('billing', eid, dtm, data, withEntities(additions, entities));
}
