export * from './tracker';
export * from './payload';
export * from './schemas';
export type { BillingEventRequiredInput, BillingEventOptionalInput } from './billing-event';
export { BILLING_REALMS, MAX_EVENT_NAME_LENGTH } from '../validation';
export type { BillingRealm } from '../validation';
