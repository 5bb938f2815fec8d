// Events for the viewer's browser tests and its screenshot: real tracker events of two apps
// (custom events, billing events in two units), and one billing event a collector refuses.
import { Emitter, Tracker } from '../../../lib/core';
import { billableUsage, billingItem, payloadBody, postPayload } from '../../testing/support/snowplow-payloads';

export const SAMPLE_COUNTS = { total: 9, good: 8, bad: 1, billing: 3 };

/** Sends the samples to `endpoint` and resolves once the emitter has delivered them. */
export async function sendSampleEvents(endpoint: string): Promise<void> {
  const emitter = new Emitter({ collectorUrl: endpoint, lingerMs: 0 });
  emitter.start();
  const shop = new Tracker({ appId: 'shop', emitter });
  const billing = new Tracker({ appId: 'billing-api', emitter });
  try {
    shop.trackEvent('cart_viewed', { items: 2, cart_id: 'c-17' });
    shop.trackEvent('checkout_started', { items: 2, total_cents: 4599 });
    billing.trackBillingEvent({
      category: 'ci',
      eventType: 'ci_minutes',
      realm: 'SaaS',
      unitOfMeasure: 'minute',
      quantity: 12.5,
    });
    shop.trackEvent('checkout_completed', { order_id: 'o-981', total_cents: 4599 });
    billing.trackBillingEvent({
      category: 'ci',
      eventType: 'ci_minutes',
      realm: 'SaaS',
      unitOfMeasure: 'minute',
      quantity: 7.5,
    });
    billing.trackEvent('job_finished', { job_id: '1', minutes: 20 });
    billing.trackBillingEventWithOptionalInput(
      { category: 'duo', eventType: 'code_suggestions', realm: 'SM', unitOfMeasure: 'token', quantity: 44 },
      { correlationId: 'req-124', projectId: 42 },
    );
    shop.trackEvent('search', { query_length: 9, results: 14 });
    await emitter.drain(10_000);
  } finally {
    await emitter.stop();
  }
  // A billing event with a realm the schema does not allow: the collector marks it bad.
  const refused = { ...billingItem(billableUsage({ realm: 'Moon', event_type: 'storage_gb' })), aid: 'billing-api' };
  await postPayload(endpoint, payloadBody(refused));
}
