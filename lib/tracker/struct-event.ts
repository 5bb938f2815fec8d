import {
  optionalField,
  optionalFiniteNumber,
  PROTOCOL_LIMITS,
  requiredField,
  requiredInputObject,
} from '../validation';
import type { StructData } from './event';

/** A Snowplow structured event (`e=se`). Empty optional fields are not sent. */
export interface StructEvent {
  /** `se_ca`: what the event is about, e.g. `shop`. At most 1000 characters. */
  category: string;
  /** `se_ac`: what happened, e.g. `add-to-basket`. At most 1000 characters. */
  action: string;
  /** `se_la`. At most 4096 characters. */
  label?: string;
  /** `se_pr`. At most 1000 characters. */
  property?: string;
  /** `se_va`: a finite number. */
  value?: number;
}

/** The data of a structured event (`trackStructEvent`); always in the custom lane. */
export function structData(event: unknown): StructData {
  const input = requiredInputObject('event', event);
  const data: { -readonly [K in keyof StructData]: StructData[K] } = {
    type: 'se',
    category: requiredField('category', input.category, PROTOCOL_LIMITS.se_ca),
    action: requiredField('action', input.action, PROTOCOL_LIMITS.se_ac),
  };
  const label = optionalField('label', input.label, PROTOCOL_LIMITS.se_la);
  if (label !== undefined) data.label = label;
  const property = optionalField('property', input.property, PROTOCOL_LIMITS.se_pr);
  if (property !== undefined) data.property = property;
  const value = optionalFiniteNumber('value', input.value);
  if (value !== undefined) data.value = value;
  return data;
}
