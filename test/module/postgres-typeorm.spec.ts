// A Nest app with @nestjs/typeorm and the PostgreSQL outbox: a service charges a customer and bills
// it in one TypeORM transaction (TrackerService.inTransaction). A committed charge's bill reaches
// the collector with the request's correlation id; a charge that fails after tracking rolls the
// bill back with it; the outbox and the charges table agree.
import { Body, Controller, INestApplication, Injectable, Module, Post } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import request from 'supertest';
import { DataSource } from 'typeorm';
import { SnowplowModule, TrackerService } from '../../lib';
import { migratePostgresOutbox } from '../../lib/core';
import { LocalCollector, startLocalCollector } from '../../lib/testing/local-collector';
import { createApp } from '../support/nest';
import { rows, usePostgres } from '../support/postgres';
import { waitFor } from '../support/wait-for';

const pg = usePostgres('typeorm');
const TABLE = 'outbox';

interface ChargeBody {
  customer: string;
  minutes: number;
  /** Fail the business operation after the bill was written in the transaction. */
  fail?: boolean;
}

@Injectable()
class ChargeService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly tracker: TrackerService,
  ) {}

  charge({ customer, minutes, fail }: ChargeBody): Promise<{ eid: string; eventId: string }> {
    return this.dataSource.transaction(async (manager) => {
      await manager.query(`INSERT INTO "${pg.schema}".charges (customer, minutes) VALUES ($1, $2)`, [
        customer,
        minutes,
      ]);
      const { eid, eventId } = await this.tracker.inTransaction(manager).trackBillingEvent({
        category: 'ci',
        eventType: 'ci_minutes',
        realm: 'SaaS',
        unitOfMeasure: 'minute',
        quantity: minutes,
      });
      if (fail) throw new Error('the card was declined');
      return { eid, eventId };
    });
  }
}

@Controller('charges')
class ChargeController {
  constructor(private readonly charges: ChargeService) {}

  @Post()
  charge(@Body() body: ChargeBody) {
    return this.charges.charge(body);
  }
}

describe('TrackerService.inTransaction in a Nest app with @nestjs/typeorm', () => {
  let collector: LocalCollector;
  let app: INestApplication;

  beforeAll(async () => {
    collector = await startLocalCollector();
    await migratePostgresOutbox(pg.pool, { schema: pg.schema, table: TABLE });
    await pg.pool.query(
      `CREATE TABLE "${pg.schema}".charges (id serial PRIMARY KEY, customer text NOT NULL, minutes int NOT NULL)`,
    );
    @Module({
      imports: [
        TypeOrmModule.forRoot({ type: 'postgres', url: pg.url, schema: pg.schema, poolSize: 2 }),
        SnowplowModule.forRoot({
          collectorUrl: collector.endpoint,
          appId: 'charges',
          lingerMs: 0,
          metrics: false,
          storage: { type: 'postgres', connectionString: pg.url, schema: pg.schema, table: TABLE },
        }),
      ],
      controllers: [ChargeController],
      providers: [ChargeService],
    })
    class AppModule {}
    app = await createApp({ imports: [AppModule] });
  });
  afterAll(async () => {
    await app?.close();
    await collector.close();
  });

  it('bills exactly the charges that committed, each under its request id', async () => {
    const ok = await request(app.getHttpServer())
      .post('/charges')
      .set('X-Request-Id', 'req-ok')
      .send({ customer: 'acme', minutes: 12 })
      .expect(201);
    await request(app.getHttpServer())
      .post('/charges')
      .set('X-Request-Id', 'req-declined')
      .send({ customer: 'globex', minutes: 30, fail: true })
      .expect(500);

    const [event] = await collector.waitForEvents(1);
    expect(event.eid).toBe(ok.body.eid);
    expect(event.se_la).toBe(ok.body.eventId);
    expect(event.se_va).toBe('12');
    // Decoded and validated against the Iglu schemas: the billable_usage entity carries the request id.
    expect(collector.bad()).toEqual([]);
    const decoded = JSON.stringify(collector.good());
    expect(decoded).toContain('"correlation_id":"req-ok"');
    expect(decoded).not.toContain('req-declined');
    // The declined charge and its bill are both gone; the outbox drains to empty.
    expect(await rows(pg.pool, `SELECT customer FROM "${pg.schema}".charges`)).toEqual([{ customer: 'acme' }]);
    await waitFor(async () => (await rows(pg.pool, `SELECT 1 FROM "${pg.schema}"."${TABLE}"`)).length === 0, {
      what: 'the outbox to drain',
    });
    expect(collector.events()).toHaveLength(1);
  });
});
