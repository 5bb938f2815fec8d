export * from './tracker';
export * from './payload';
export * from './schemas';
export {
  BILLING_REALMS,
  BillingRealm,
  BillingEventRequiredInput,
  BillingEventOptionalInput,
} from './billing-event';
export { MAX_EVENT_NAME_LENGTH } from './custom-event';
