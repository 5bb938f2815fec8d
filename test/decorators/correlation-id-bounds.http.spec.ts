// A client's header never decides the size of a bill: a correlation id longer than
// correlationIdMaxLength is dropped (logged once, counted), a repeated header gives its first
// value, and a billing event that its correlation id would push past maxEventBytes is sent without
// it. Through real Nest apps on Express and Fastify, with a loopback collector.
import { request as httpRequest, Server } from 'node:http';
import { Controller, INestApplication, LoggerService, Module, Post } from '@nestjs/common';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import { Registry } from 'prom-client';
import { SnowplowModuleOptions, TrackBillingEvent } from '../../lib';
import { EmitterService } from '../../lib/module/emitter.service';
import { TrackerService } from '../../lib/module/tracker.service';
import { BillingEventRequiredInput } from '../../lib/tracker';
import { LocalCollector, startLocalCollector } from '../../lib/testing/local-collector';
import { billingNamed, snowplowModule, trackErrors } from './support/snowplow-app';

const HUGE = 100 * 1024;
/** Node refuses headers over 16 KB by default; these servers take the 100 KB header the finding used. */
const MAX_HEADER_SIZE = 1024 * 1024;

const usage = (eventType: string): BillingEventRequiredInput => ({
  category: 'duo',
  eventType,
  realm: 'SaaS',
  unitOfMeasure: 'token',
  quantity: 1,
});

@Controller('bill')
class BillController {
  constructor(private readonly tracker: TrackerService) {}

  /** Bills under the request's correlation id and answers with the id the handler saw. */
  @Post()
  @TrackBillingEvent(usage('bounded_tokens'))
  bill() {
    return { seen: this.tracker.correlationId() ?? null };
  }

  /** Bills with an explicit correlation id of 100 KB: the caller's own input. */
  @Post('explicit')
  explicit() {
    const { eid } = this.tracker.trackBillingEventWithOptionalInput(usage('explicit_tokens'), {
      correlationId: 'e'.repeat(HUGE),
    });
    return { eid };
  }
}

class CapturingLogger implements LoggerService {
  readonly warnings: string[] = [];
  readonly errors: string[] = [];
  log(): void {}
  warn(message: unknown): void {
    this.warnings.push(String(message));
  }
  error(message: unknown): void {
    this.errors.push(String(message));
  }
}

/** A POST on a connection of its own, with headers given as Node sends them (an array: the header repeated). */
function post(
  app: INestApplication,
  path: string,
  headers: Record<string, string | string[]>,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const { port } = (app.getHttpServer() as Server).address() as { port: number };
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: '127.0.0.1', port, path, method: 'POST', agent: false, headers: { ...headers, 'content-length': 0 } },
      (response) => {
        let text = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (text += chunk));
        response.on('end', () =>
          resolve({ status: response.statusCode ?? 0, body: JSON.parse(text) as Record<string, unknown> }),
        );
        response.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end();
  });
}

/** snowplow_correlation_ids_rejected_total{reason} on `registry`. */
async function rejected(registry: Registry, reason: string): Promise<number> {
  const metric = registry.getSingleMetric('snowplow_correlation_ids_rejected_total');
  if (!metric) throw new Error('snowplow_correlation_ids_rejected_total is not registered');
  const { values } = await metric.get();
  return values.filter((v) => v.labels.reason === reason).reduce((sum, v) => sum + v.value, 0);
}

const adapters: Array<[string, () => FastifyAdapter | undefined]> = [
  ['Express', () => undefined],
  ['Fastify', () => new FastifyAdapter({ http: { maxHeaderSize: MAX_HEADER_SIZE } })],
];

describe.each(adapters)('correlation ids are bounded and single (%s)', (_platform, createAdapter) => {
  let collector: LocalCollector;

  beforeAll(async () => {
    collector = await startLocalCollector();
  });
  afterAll(() => collector.close());

  async function startApp(registry: Registry, logger: CapturingLogger, options: Partial<SnowplowModuleOptions>) {
    @Module({ imports: [snowplowModule(collector, registry, options)], controllers: [BillController] })
    class AppModule {}
    const moduleRef = await Test.createTestingModule({ imports: [AppModule] }).compile();
    const adapter = createAdapter();
    const app = adapter
      ? moduleRef.createNestApplication(adapter, { logger })
      : moduleRef.createNestApplication({ logger });
    // Express: Node's http.Server reads maxHeaderSize from the instance for each new connection.
    if (!adapter) (app.getHttpServer() as Server & { maxHeaderSize?: number }).maxHeaderSize = MAX_HEADER_SIZE;
    await app.listen(0, '127.0.0.1');
    return app;
  }

  describe('with the default correlationIdMaxLength (128)', () => {
    let app: INestApplication;
    let registry: Registry;
    let logger: CapturingLogger;
    beforeAll(async () => {
      registry = new Registry();
      logger = new CapturingLogger();
      app = await startApp(registry, logger, {});
    });
    afterAll(() => app.close());

    const billed = async () => billingNamed(app.get(EmitterService), collector, 'bounded_tokens');

    it('a 100 KB X-Request-Id: the client gets its answer, the bill arrives without a correlation id, logged once and counted', async () => {
      const before = (await billed()).length;
      for (const n of [1, 2]) {
        const response = await post(app, '/bill', { 'x-request-id': `${n}`.repeat(HUGE) });
        expect(response).toEqual({ status: 201, body: { seen: null } });
      }
      const bills = (await billed()).slice(before);
      expect(bills).toHaveLength(2);
      for (const bill of bills) expect(bill).not.toHaveProperty('correlation_id');
      expect(await rejected(registry, 'too_long')).toBe(2);
      expect(await rejected(registry, 'event_too_large')).toBe(0);
      expect(await trackErrors(registry, 'interceptor', 'billing')).toBe(0);
      const logged = logger.warnings.filter((w) => w.includes('correlationIdMaxLength'));
      expect(logged).toEqual([
        expect.stringContaining(
          `a correlation id of ${HUGE} characters in "x-request-id" is longer than correlationIdMaxLength (128)`,
        ),
      ]);
      // The value itself is never logged.
      expect(logger.warnings.join('\n')).not.toContain('1'.repeat(200));
    });

    it('128 characters are kept whole; 129 are dropped and the next header is looked at', async () => {
      const before = (await billed()).length;
      const id128 = 'a'.repeat(128);
      expect(await post(app, '/bill', { 'x-request-id': id128 })).toEqual({ status: 201, body: { seen: id128 } });
      expect(
        await post(app, '/bill', { 'x-request-id': 'b'.repeat(129), 'x-correlation-id': 'corr-fallback' }),
      ).toEqual({ status: 201, body: { seen: 'corr-fallback' } });
      const bills = (await billed()).slice(before);
      expect(bills.map((b) => b.correlation_id)).toEqual([id128, 'corr-fallback']);
    });

    it('a repeated X-Request-Id gives its first value, not "first, second"', async () => {
      const before = (await billed()).length;
      expect(await post(app, '/bill', { 'x-request-id': ['req-first', 'req-second'] })).toEqual({
        status: 201,
        body: { seen: 'req-first' },
      });
      expect(await post(app, '/bill', { 'x-correlation-id': ['corr-first', 'corr-second', 'corr-third'] })).toEqual({
        status: 201,
        body: { seen: 'corr-first' },
      });
      // Sent once, an id holding ", " is kept as it is.
      expect(await post(app, '/bill', { 'x-request-id': 'one, id' })).toEqual({
        status: 201,
        body: { seen: 'one, id' },
      });
      const bills = (await billed()).slice(before);
      expect(bills.map((b) => b.correlation_id)).toEqual(['req-first', 'corr-first', 'one, id']);
    });
  });

  describe('with a cap above maxEventBytes (correlationIdMaxLength 200,000, maxEventBytes 8,192)', () => {
    let app: INestApplication;
    let registry: Registry;
    let logger: CapturingLogger;
    beforeAll(async () => {
      registry = new Registry();
      logger = new CapturingLogger();
      app = await startApp(registry, logger, { correlationIdMaxLength: 200_000, maxEventBytes: 8_192 });
    });
    afterAll(() => app.close());

    it('a 100 KB id from the request, and one passed explicitly: each bill arrives without it, logged once and counted', async () => {
      const emitter = app.get(EmitterService);
      const before = (await billingNamed(emitter, collector, 'bounded_tokens')).length;
      const headerId = 'h'.repeat(HUGE);
      for (let i = 0; i < 2; i++) {
        const response = await post(app, '/bill', { 'x-request-id': headerId });
        expect(response.status).toBe(201);
        expect(response.body.seen).toBe(headerId);
      }
      expect((await post(app, '/bill/explicit', {})).status).toBe(201);
      // A small id still fits and is sent.
      expect((await post(app, '/bill', { 'x-request-id': 'small-id' })).status).toBe(201);

      const fromRequest = (await billingNamed(emitter, collector, 'bounded_tokens')).slice(before);
      expect(fromRequest.map((b) => b.correlation_id)).toEqual([undefined, undefined, 'small-id']);
      const explicit = (await billingNamed(emitter, collector, 'explicit_tokens')).slice(-1);
      expect(explicit[0]).not.toHaveProperty('correlation_id');

      expect(await rejected(registry, 'event_too_large')).toBe(3);
      expect(await rejected(registry, 'too_long')).toBe(0);
      expect(await trackErrors(registry, 'interceptor', 'billing')).toBe(0);
      expect(emitter.stats().dropped.too_large).toBe(0);
      expect(logger.errors.filter((e) => e.includes('EventTooLargeError') || e.includes('maxEventBytes'))).toEqual([]);
      const logged = logger.warnings.filter((w) => w.includes('maxEventBytes'));
      expect(logged).toEqual([
        expect.stringMatching(
          new RegExp(
            `was sent without its correlation id \\(${HUGE} characters\\), .*larger than maxEventBytes \\(8192\\)`,
          ),
        ),
      ]);
    });
  });
});
