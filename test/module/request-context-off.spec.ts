import { Controller, INestApplication, Post } from '@nestjs/common';
import request from 'supertest';
import { SnowplowModule, TrackerService } from '../../lib';
import { decodeAccepted } from '../support/decode';
import { createApp } from '../support/nest';
import { LocalCollector, startLocalCollector } from '../../lib/testing/local-collector';

@Controller()
class BillingController {
  constructor(private readonly tracker: TrackerService) {}

  @Post('bill')
  bill(): { seen: string | null } {
    this.tracker.trackBillingEvent({
      category: 'c',
      eventType: 'seats',
      realm: 'SM',
      unitOfMeasure: 'seat',
      quantity: 1,
    });
    return { seen: this.tracker.correlationId() ?? null };
  }
}

describe('request contexts turned off (correlationIdHeaders: [] and no enrich)', () => {
  let collector: LocalCollector;
  let app: INestApplication;
  beforeEach(async () => {
    collector = await startLocalCollector();
    app = await createApp({
      imports: [
        SnowplowModule.forRoot({
          collectorUrl: collector.endpoint,
          appId: 'off',
          metrics: false,
          correlationIdHeaders: [],
        }),
      ],
      controllers: [BillingController],
    });
  });
  afterEach(async () => {
    await app.close();
    await collector.close();
  });

  it('opens no context: no correlation id, even with the usual headers, and billing still works', async () => {
    await request(app.getHttpServer()).post('/bill').set('X-Request-Id', 'req-1').expect(201, { seen: null });
    await collector.waitForEvents(1);
    const [event] = decodeAccepted(collector);
    expect(event.eventType).toBe('se');
    expect(event.contexts[0].data).not.toHaveProperty('correlation_id');
  });
});
