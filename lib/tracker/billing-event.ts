import { InvalidEventError } from '../errors';
import { describeType, isPlainObject, stringifyJson } from '../utils';
import { encodeBase64 } from './payload';
import { SCHEMAS } from './schemas';

export const BILLING_REALMS = ['SaaS', 'Dedicated', 'SM'] as const;
export type BillingRealm = (typeof BILLING_REALMS)[number];

/** The fields every billing event needs. */
export interface BillingEventRequiredInput {
  /** `se_ca` of the structured event. */
  category: string;
  /** `se_ac` of the structured event and `event_type` of the billable_usage entity. */
  eventType: string;
  realm: BillingRealm;
  unitOfMeasure: string;
  /** A finite number greater than 0. */
  quantity: number;
}

/** Optional billable_usage fields; unset or empty ones are left out of the event. */
export interface BillingEventOptionalInput {
  instanceId?: string;
  instanceVersion?: string;
  uniqueInstanceId?: string;
  hostName?: string;
  projectId?: number;
  namespaceId?: number;
  organizationId?: number;
  rootNamespaceId?: number;
  subject?: string;
  globalUserId?: string;
  seatIds?: string[];
  correlationId?: string;
  deploymentType?: string;
  assignments?: string[];
  entityId?: string;
  metadata?: Record<string, unknown>;
}

type Kind = 'string' | 'id' | 'strings' | 'object';

/** Each optional input field, its wire name and its kind, in the order they are written. */
const OPTIONAL_FIELDS: ReadonlyArray<readonly [keyof BillingEventOptionalInput, string, Kind]> = [
  ['instanceId', 'instance_id', 'string'],
  ['instanceVersion', 'instance_version', 'string'],
  ['uniqueInstanceId', 'unique_instance_id', 'string'],
  ['hostName', 'host_name', 'string'],
  ['projectId', 'project_id', 'id'],
  ['namespaceId', 'namespace_id', 'id'],
  ['organizationId', 'organization_id', 'id'],
  ['rootNamespaceId', 'root_namespace_id', 'id'],
  ['subject', 'subject', 'string'],
  ['globalUserId', 'global_user_id', 'string'],
  ['seatIds', 'seat_ids', 'strings'],
  ['correlationId', 'correlation_id', 'string'],
  ['deploymentType', 'deployment_type', 'string'],
  ['assignments', 'assignments', 'strings'],
  ['entityId', 'entity_id', 'string'],
  ['metadata', 'metadata', 'object'],
];

const MAX_TEXT_LENGTH = 255;

function requireText(input: Record<string, unknown>, field: keyof BillingEventRequiredInput): string {
  const value = input[field];
  if (value === undefined || value === null) throw new InvalidEventError(field, 'is required');
  if (typeof value !== 'string') throw new InvalidEventError(field, `must be a string, got ${describeType(value)}`);
  if (value.trim() === '') throw new InvalidEventError(field, 'must not be empty or whitespace');
  if (value.length > MAX_TEXT_LENGTH) {
    throw new InvalidEventError(field, `must be at most ${MAX_TEXT_LENGTH} characters, got ${value.length}`);
  }
  return value;
}

function requireQuantity(value: unknown): number {
  if (value === undefined || value === null) throw new InvalidEventError('quantity', 'is required');
  if (typeof value !== 'number') {
    throw new InvalidEventError('quantity', `must be a number, got ${describeType(value)}`);
  }
  if (!Number.isFinite(value)) throw new InvalidEventError('quantity', `must be finite, got ${value}`);
  if (value <= 0) throw new InvalidEventError('quantity', `must be greater than 0, got ${value}`);
  return value;
}

/** The optional value in wire form, or undefined when it is unset or empty. */
function optionalValue(field: string, kind: Kind, value: unknown): unknown {
  if (value === undefined || value === null) return undefined;
  switch (kind) {
    case 'string':
      if (typeof value !== 'string') throw new InvalidEventError(field, `must be a string, got ${describeType(value)}`);
      return value === '' ? undefined : value;
    case 'id':
      if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
        throw new InvalidEventError(field, `must be a non-negative safe integer, got ${describeValue(value)}`);
      }
      return value;
    case 'strings':
      if (!Array.isArray(value) || value.some((item) => typeof item !== 'string')) {
        throw new InvalidEventError(field, 'must be an array of strings');
      }
      return value.length === 0 ? undefined : value;
    case 'object': {
      if (!isPlainObject(value)) throw new InvalidEventError(field, `must be a plain object, got ${describeType(value)}`);
      const result = stringifyJson(value);
      if ('error' in result) throw new InvalidEventError(field, result.error);
      return Object.keys(value).length === 0 ? undefined : value;
    }
  }
}

/** Input objects may be plain objects or class instances (DTOs), never arrays or primitives. */
function requireObject(field: string, value: unknown): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new InvalidEventError(field, `must be an object, got ${describeType(value)}`);
  }
  return value as Record<string, unknown>;
}

function describeValue(value: unknown): string {
  return typeof value === 'number' ? String(value) : describeType(value);
}

export interface BillingEventFields {
  category: string;
  eventType: string;
  quantity: number;
  /** base64 of the contexts wrapper holding the billable_usage entity. */
  cx: string;
}

/** Validates the inputs and builds the billable_usage context for the given event id and time. */
export function buildBillingEvent(
  required: BillingEventRequiredInput,
  optional: BillingEventOptionalInput | undefined,
  eventId: string,
  dtm: number,
): BillingEventFields {
  const input = requireObject('required', required);
  const category = requireText(input, 'category');
  const eventType = requireText(input, 'eventType');
  const realm = requireText(input, 'realm');
  if (!(BILLING_REALMS as readonly string[]).includes(realm)) {
    throw new InvalidEventError('realm', `must be one of ${BILLING_REALMS.join(', ')}, got ${JSON.stringify(realm)}`);
  }
  const unitOfMeasure = requireText(input, 'unitOfMeasure');
  const quantity = requireQuantity(input.quantity);

  const entity: Record<string, unknown> = {
    event_id: eventId,
    event_type: eventType,
    realm,
    unit_of_measure: unitOfMeasure,
    quantity,
    timestamp: new Date(dtm).toISOString(),
  };
  if (optional !== undefined && optional !== null) {
    const opt = requireObject('optional', optional);
    for (const [field, wire, kind] of OPTIONAL_FIELDS) {
      const value = optionalValue(field, kind, opt[field]);
      if (value !== undefined) entity[wire] = value;
    }
  }
  const contexts = { schema: SCHEMAS.contexts, data: [{ schema: SCHEMAS.billableUsage, data: entity }] };
  return { category, eventType, quantity, cx: encodeBase64(JSON.stringify(contexts)) };
}
