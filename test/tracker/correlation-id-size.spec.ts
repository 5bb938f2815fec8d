// A correlation id never makes a bill fail: a billing event that its correlation id (explicit or
// from defaultCorrelationId) would push past the emitter's maxEventBytes is sent without it; the
// emitter logs the first such drop and its observer counts every one. The core alone, no Nest.
import {
  CorrelationIdRejectReason,
  EmitterObserver,
  EmitterStoppedError,
  EventTooLargeError,
  TrackedPayload,
  Tracker,
} from '../../lib/core';
import { useEmitterHarness } from '../support/emitter-harness';
import { decodeAccepted } from '../support/decode';
import { SCHEMAS } from '../../lib/tracker/schemas';

const REQUIRED = { category: 'c', eventType: 'seats', realm: 'SM', unitOfMeasure: 'seat', quantity: 2 } as const;
const MAX_EVENT_BYTES = 4_096;
const BIG_ID = 'i'.repeat(10_000);

describe('a correlation id that would make a billing event too large', () => {
  const harness = useEmitterHarness();

  function start(defaultCorrelationId?: () => string | undefined) {
    const rejected: CorrelationIdRejectReason[] = [];
    const warnings: string[] = [];
    const observer: EmitterObserver = {
      eventsEnqueued: () => undefined,
      requestFinished: () => undefined,
      eventsSent: () => undefined,
      eventsDropped: () => undefined,
      authFailed: () => undefined,
      correlationIdRejected: (reason) => void rejected.push(reason),
    };
    const { emitter } = harness.start({
      maxEventBytes: MAX_EVENT_BYTES,
      lingerMs: 0,
      observer,
      logger: { warn: (m) => void warnings.push(m), error: (m) => void warnings.push(`error: ${m}`) },
    });
    const tracker = new Tracker({ appId: 'sizes', emitter, defaultCorrelationId });
    return { emitter, tracker, rejected, warnings };
  }

  async function delivered(count: number): Promise<Array<Record<string, unknown>>> {
    await harness.collector.waitForEvents(count);
    return decodeAccepted(harness.collector).map(
      (event) => event.contexts.find((c) => c.schema === SCHEMAS.billableUsage)?.data as Record<string, unknown>,
    );
  }

  it('an explicit one: the bill is sent without it, the first drop logged, each counted', async () => {
    const { emitter, tracker, rejected, warnings } = start();
    const first = tracker.trackBillingEventWithOptionalInput(REQUIRED, { correlationId: BIG_ID, projectId: 7 });
    const second = tracker.trackBillingEventWithOptionalInput(REQUIRED, { correlationId: BIG_ID });
    tracker.trackBillingEventWithOptionalInput(REQUIRED, { correlationId: 'fits' });
    const usage = await delivered(3);
    expect(usage.map((u) => [u.event_id, u.correlation_id, u.project_id])).toEqual([
      [first.eventId, undefined, 7],
      [second.eventId, undefined, undefined],
      [expect.any(String), 'fits', undefined],
    ]);
    expect(rejected).toEqual(['event_too_large', 'event_too_large']);
    expect(warnings).toEqual([
      `billing event ${first.eid} was sent without its correlation id (10000 characters), which would have made ` +
        `it larger than maxEventBytes (${MAX_EVENT_BYTES}). Logged once; the metrics count every one ` +
        '(correlation_ids_rejected_total{reason="event_too_large"})',
    ]);
    expect(emitter.stats().dropped.too_large).toBe(0);
  });

  it('one from defaultCorrelationId: the same', async () => {
    let id = BIG_ID;
    const { tracker, rejected } = start(() => id);
    tracker.trackBillingEvent(REQUIRED);
    id = 'small';
    tracker.trackBillingEvent(REQUIRED);
    expect((await delivered(2)).map((u) => u.correlation_id)).toEqual([undefined, 'small']);
    expect(rejected).toEqual(['event_too_large']);
  });

  it('an event too large without its correlation id is still refused, with the size of the whole event', () => {
    const { tracker, rejected } = start();
    let thrown: unknown;
    try {
      tracker.trackBillingEventWithOptionalInput(REQUIRED, {
        correlationId: 'id',
        metadata: { pad: 'm'.repeat(5_000) },
      });
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(EventTooLargeError);
    expect(rejected).toEqual([]);
  });

  it('a bill the emitter refuses (stopped) is not counted as sent without its correlation id', async () => {
    const { emitter, tracker, rejected, warnings } = start();
    await emitter.stop();
    expect(() => tracker.trackBillingEventWithOptionalInput(REQUIRED, { correlationId: BIG_ID })).toThrow(
      EmitterStoppedError,
    );
    expect(rejected).toEqual([]);
    expect(warnings.filter((w) => w.includes('without its correlation id'))).toEqual([]);
  });

  it('a sink that states no maxEventBytes gets the event as it is', () => {
    const payloads: TrackedPayload[] = [];
    const tracker = new Tracker({ appId: 'sizes', emitter: { enqueue: (p) => void payloads.push(p) } });
    tracker.trackBillingEventWithOptionalInput(REQUIRED, { correlationId: BIG_ID });
    const cx = (JSON.parse(payloads[0].json) as Record<string, string>).cx;
    expect(Buffer.from(cx, 'base64url').toString('utf8')).toContain(`"correlation_id":"${BIG_ID}"`);
  });
});
