// Which options make the module open a request context (issue 27): correlation headers, `enrich`,
// `subject` and `requestEntity`. Without any of them no route pays for one; with one, every handler
// call gets one (tracked or not: `TrackerService` may track from any route), and the user's
// functions run only when an event is tracked.
import { Controller, Get, INestApplication } from '@nestjs/common';
import request from 'supertest';
import { SnowplowModule, SnowplowModuleOptions, SnowplowRequestContext, TrackEvent, TrackerService } from '../../lib';
import { LocalCollector, startLocalCollector } from '../../lib/testing/local-collector';
import { decodeAccepted } from '../support/decode';
import { createApp } from '../support/nest';

const REQUEST = 'iglu:dev.nestjs-snowplow/request/jsonschema/1-0-0';

@Controller()
class RoutesController {
  constructor(private readonly tracker: TrackerService) {}

  /** Outside any tracked handler, tracking nothing. */
  @Get('untracked')
  untracked(): { correlationId: string | null } {
    return { correlationId: this.tracker.correlationId() ?? null };
  }

  /** Outside any tracked handler, tracking through the service. */
  @Get('service')
  service(): { correlationId: string | null } {
    this.tracker.trackEvent('from_service');
    return { correlationId: this.tracker.correlationId() ?? null };
  }

  @Get('tracked')
  @TrackEvent('from_decorator')
  tracked(): { correlationId: string | null } {
    return { correlationId: this.tracker.correlationId() ?? null };
  }
}

describe('the request context, opened only when an option needs it', () => {
  let collector: LocalCollector;
  let app: INestApplication | undefined;
  beforeEach(async () => {
    collector = await startLocalCollector();
  });
  afterEach(async () => {
    await app?.close();
    app = undefined;
    await collector.close();
  });

  const start = async (options: Partial<SnowplowModuleOptions>) => {
    app = await createApp({
      imports: [SnowplowModule.forRoot({ collectorUrl: collector.endpoint, appId: 'ctx', metrics: false, ...options })],
      controllers: [RoutesController],
    });
    return app.getHttpServer();
  };

  it('defaults: an untracked route and a tracked one both see the correlation id', async () => {
    const server = await start({});
    await request(server).get('/untracked').set('X-Request-Id', 'req-u').expect(200, { correlationId: 'req-u' });
    await request(server).get('/tracked').set('X-Request-Id', 'req-t').expect(200, { correlationId: 'req-t' });
  });

  it('requestEntity alone (correlationIdHeaders: []) still gets its entity, with no correlation id', async () => {
    const server = await start({ correlationIdHeaders: [], requestEntity: true });
    await request(server).get('/tracked').set('X-Request-Id', 'req-1').expect(200, { correlationId: null });
    await request(server).get('/service').set('X-Request-Id', 'req-2').expect(200, { correlationId: null });
    await collector.waitForEvents(2);
    const events = decodeAccepted(collector);
    expect(events.map((e) => e.name).sort()).toEqual(['from_decorator', 'from_service']);
    for (const event of events) expect(event.contexts).toEqual([{ schema: REQUEST, data: { type: 'http' } }]);
  });

  it('enrich is called only when a request tracks a custom event, once, also on an untracked route', async () => {
    const seen: Array<{ type: string; correlationId: string | undefined }> = [];
    const enrich = (context: SnowplowRequestContext) => {
      seen.push({ type: context.type, correlationId: context.correlationId });
      return { request_id: context.correlationId ?? null };
    };
    const server = await start({ correlationIdHeaders: ['x-request-id'], enrich });
    await request(server).get('/untracked').set('X-Request-Id', 'req-0').expect(200, { correlationId: 'req-0' });
    expect(seen).toEqual([]);
    await request(server).get('/service').set('X-Request-Id', 'req-s').expect(200, { correlationId: 'req-s' });
    await request(server).get('/tracked').set('X-Request-Id', 'req-t').expect(200, { correlationId: 'req-t' });
    await collector.waitForEvents(2);
    expect(seen).toEqual([
      { type: 'http', correlationId: 'req-s' },
      { type: 'http', correlationId: 'req-t' },
    ]);
    const props = new Map(decodeAccepted(collector).map((e) => [e.name, e.props]));
    expect(props.get('from_service')).toEqual({ request_id: 'req-s' });
    expect(props.get('from_decorator')).toEqual({ request_id: 'req-t' });
  });

  it('with none of the options, no route gets a context: no correlation id, and tracking still works', async () => {
    const server = await start({ correlationIdHeaders: [] });
    await request(server).get('/untracked').set('X-Request-Id', 'req-0').expect(200, { correlationId: null });
    await request(server).get('/tracked').set('X-Request-Id', 'req-t').expect(200, { correlationId: null });
    await collector.waitForEvents(1);
    const [event] = decodeAccepted(collector);
    expect(event.name).toBe('from_decorator');
    expect(event.contexts).toEqual([]);
  });
});
