import { INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { register } from 'prom-client';
import request from 'supertest';
import { EmitterService } from '../../lib';
import { GoodEvent, LocalCollector, startLocalCollector } from '../../lib/testing';
import { AppModule } from '../../sample-app/src/app.module';
import { AppConfig } from '../../sample-app/src/config';
import { FinishedJob, Job, RatedJob } from '../../sample-app/src/jobs/job';
import { SAMPLE_IGLU_DIR } from '../../sample-app/src/schemas';
import { waitFor } from '../support/wait-for';

const APP_ID = 'sample-e2e';
const CUSTOM_EVENT_SCHEMA = 'iglu:com.gitlab/custom_event/jsonschema/1-0-0';
const BILLABLE_USAGE_SCHEMA = 'iglu:com.gitlab/billable_usage/jsonschema/1-0-2';
const WAIT = { timeoutMs: 15_000 };

/**
 * The value of one sample line of Prometheus text, e.g.
 * `snowplow_events_sent_total{tracker="default",result="success"}`.
 */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('sample app (AppModule) against a local collector', () => {
  let collector: LocalCollector;
  let app: INestApplication;

  beforeAll(async () => {
    register.clear();
    // The sample's own schemas, as its embedded collector has them.
    collector = await startLocalCollector({ port: 0, schemaDirs: [SAMPLE_IGLU_DIR] });
    // The environment a deployment would set; the config reads nothing else.
    const config = AppConfig.fromEnv({
      SNOWPLOW_COLLECTOR_URL: collector.endpoint,
      SNOWPLOW_APP_ID: APP_ID,
      BILLING_REALM: 'SaaS',
      BILLING_INSTANCE_ID: 'instance-e2e',
    });
    const moduleRef = await Test.createTestingModule({ imports: [AppModule.forRoot(config)] }).compile();
    app = moduleRef.createNestApplication({ logger: false });
    await app.init();
  });

  afterAll(async () => {
    await app?.close();
    await collector?.close();
  });

  afterEach(() => {
    // Everything the sample sends must be schema-valid.
    expect(collector.bad()).toEqual([]);
  });

  const http = () => request(app.getHttpServer());

  /** Every good event, once one matching `match` arrived. */
  async function eventArrived(match: (event: GoodEvent) => boolean): Promise<GoodEvent> {
    const { good } = await collector.waitFor((snapshot) => snapshot.good.some(match), WAIT);
    return good.find(match) as GoodEvent;
  }

  /** Waits until nothing is queued or in flight, then returns every event the collector holds. */
  async function settledEvents(): Promise<GoodEvent[]> {
    const result = await app.get(EmitterService).drain(15_000);
    expect(result.drained).toBe(true);
    return collector.good();
  }

  const custom = (name: string, jobId: string) => (event: GoodEvent) =>
    event.eventType === 'ue' && event.name === name && event.props?.job_id === jobId;

  async function createJob(body: Record<string, unknown>): Promise<Job> {
    return (await http().post('/jobs').send(body).expect(201)).body as Job;
  }

  it('POST /jobs answers 201 and tracks job_created with props from the result', async () => {
    const job = await createJob({ projectId: 42, namespaceId: 7, name: 'build' });
    expect(job).toMatchObject({ projectId: 42, namespaceId: 7, name: 'build', status: 'running' });

    const event = await eventArrived(custom('job_created', job.id));
    expect(event.schema).toBe(CUSTOM_EVENT_SCHEMA);
    expect(event.props).toEqual({ job_id: job.id, project_id: 42 });
    expect(event.raw).toMatchObject({ aid: APP_ID, tna: 'gitlab', p: 'srv' });
    expect(event.contexts).toEqual([]);
  });

  it('GET /jobs/:id tracks job_viewed with the id from the request; a 404 tracks nothing', async () => {
    const job = await createJob({ projectId: 1, name: 'lint' });
    const { body } = await http().get(`/jobs/${job.id}`).expect(200);
    expect(body).toEqual(job);
    expect((await eventArrived(custom('job_viewed', job.id))).props).toEqual({ job_id: job.id });

    await http().get('/jobs/404404').expect(404);
    expect((await settledEvents()).filter(custom('job_viewed', '404404'))).toEqual([]);
  });

  it('POST /jobs/:id/finish sends a billing event with the optional fields it has, then job_finished', async () => {
    const job = await createJob({ projectId: 42, namespaceId: 7, name: 'build' });
    const response = await http()
      .post(`/jobs/${job.id}/finish`)
      .set('X-Correlation-Id', 'corr-e2e-1')
      .send({ minutes: 12.5 })
      .expect(200);
    const { job: finished, billing } = response.body as FinishedJob;
    expect(finished).toMatchObject({ id: job.id, status: 'finished', minutes: 12.5 });

    const se = await eventArrived((event) => event.eid === billing.eid);
    expect(se.eventType).toBe('se');
    expect(se.name).toBe('ci_minutes');
    expect(se.raw).toMatchObject({
      aid: APP_ID,
      se_ca: 'ci',
      se_ac: 'ci_minutes',
      se_la: billing.eventId,
      se_va: '12.5',
    });
    expect(se.contexts).toHaveLength(1);
    expect(se.contexts[0].schema).toBe(BILLABLE_USAGE_SCHEMA);
    expect(se.contexts[0].data).toEqual({
      event_id: billing.eventId,
      event_type: 'ci_minutes',
      realm: 'SaaS',
      unit_of_measure: 'minutes',
      quantity: 12.5,
      timestamp: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      project_id: 42,
      namespace_id: 7,
      instance_id: 'instance-e2e',
      correlation_id: 'corr-e2e-1',
      entity_id: `job-${job.id}`,
      metadata: { job_name: 'build' },
    });

    // enrich: custom events of a request with an id carry it as request_id.
    const done = await eventArrived(custom('job_finished', job.id));
    expect(done.props).toEqual({
      request_id: 'corr-e2e-1',
      job_id: job.id,
      minutes: 12.5,
      billing_event_id: billing.eventId,
    });
  });

  it('POST /jobs/:id/explain bills the tokens of its result under the X-Request-Id; a 404 bills nothing', async () => {
    const job = await createJob({ projectId: 8, namespaceId: 2, name: 'explained' });
    const { body } = await http().post(`/jobs/${job.id}/explain`).set('X-Request-Id', 'req-explain-1').expect(200);
    expect(body).toEqual({
      jobId: job.id,
      projectId: 8,
      summary: `Job ${job.id} "explained" of project 8 is running.`,
      usage: { tokens: 32, realm: 'SaaS' },
    });

    const se = await eventArrived((event) => event.name === 'duo_job_summary' && event.raw.se_va === '32');
    expect(se.raw).toMatchObject({ e: 'se', se_ca: 'duo', se_ac: 'duo_job_summary', se_va: '32' });
    expect(se.contexts[0].data).toEqual({
      event_id: se.raw.se_la,
      event_type: 'duo_job_summary',
      realm: 'SaaS',
      unit_of_measure: 'token',
      quantity: 32,
      timestamp: expect.any(String),
      project_id: 8,
      correlation_id: 'req-explain-1',
      entity_id: `job-${job.id}`,
    });

    const before = (await settledEvents()).length;
    await http().post('/jobs/404404/explain').set('X-Request-Id', 'req-explain-2').expect(404);
    expect((await settledEvents()).length).toBe(before);
  });

  it('POST /jobs/:id/rate tracks com.example/job_rated with the job entity and the request subject', async () => {
    const job = await createJob({ projectId: 12, namespaceId: 3, name: 'rated' });
    await http().post(`/jobs/${job.id}/finish`).send({ minutes: 3.5 }).expect(200);
    const { body } = await http()
      .post(`/jobs/${job.id}/rate`)
      .set('User-Agent', 'Mozilla/5.0 (sample e2e)')
      .send({ rating: 4, comment: 'fast' })
      .expect(200);
    const rated = body as RatedJob;
    expect(rated).toEqual({ jobId: job.id, rating: 4, eid: expect.any(String) });

    // Validated against sample-app/iglu by the collector (afterEach: no bad event).
    const event = await eventArrived((e) => e.eid === rated.eid);
    expect(event.eventType).toBe('ue');
    expect(event.schema).toBe('iglu:com.example/job_rated/jsonschema/1-0-0');
    expect(event.data).toEqual({ rating: 4, comment: 'fast' });
    expect(event.contexts).toEqual([
      {
        schema: 'iglu:com.example/job/jsonschema/1-0-0',
        data: { job_id: job.id, project_id: 12, status: 'finished', minutes: 3.5 },
      },
    ]);
    // The module's subject option: the request's User-Agent replaces the library's, and its IP
    // address is sent (supertest connects over loopback).
    expect(event.raw.ua).toBe('Mozilla/5.0 (sample e2e)');
    expect(event.raw.ip).toMatch(/^(::ffff:)?127\.0\.0\.1$|^::1$/);
    expect(event.raw.tv).toMatch(/^nestjs-snowplow-/);

    // A rating the schema would refuse is a 400, and an unknown job a 404: neither is tracked.
    const before = (await settledEvents()).length;
    await http().post(`/jobs/${job.id}/rate`).send({ rating: 6 }).expect(400);
    await http().post('/jobs/404404/rate').send({ rating: 5 }).expect(404);
    expect((await settledEvents()).length).toBe(before);
  });

  it('optional billing fields the request does not have are left out of the event', async () => {
    const job = await createJob({ projectId: 3, name: 'test' });
    const { body } = await http().post(`/jobs/${job.id}/finish`).send({ minutes: 1 }).expect(200);
    const se = await eventArrived((event) => event.eid === (body as FinishedJob).billing.eid);
    const usage = se.contexts[0].data as Record<string, unknown>;
    expect(usage).toMatchObject({ project_id: 3, quantity: 1, realm: 'SaaS', entity_id: `job-${job.id}` });
    expect(usage).not.toHaveProperty('namespace_id');
    expect(usage).not.toHaveProperty('correlation_id');
  });

  it('POST /jobs/:id/cancel: the client gets the 409 or 404 it threw, and only failures are tracked', async () => {
    const finished = await createJob({ projectId: 5, name: 'deploy' });
    await http().post(`/jobs/${finished.id}/finish`).send({ minutes: 2 }).expect(200);

    const conflict = await http().post(`/jobs/${finished.id}/cancel`).expect(409);
    expect(conflict.body).toMatchObject({
      statusCode: 409,
      message: `job ${finished.id} is finished; only a running job can be canceled`,
    });
    const rejected = await eventArrived(custom('job_cancel_rejected', finished.id));
    expect(rejected.props).toEqual({
      job_id: finished.id,
      status: 409,
      reason: `job ${finished.id} is finished; only a running job can be canceled`,
    });

    await http().post('/jobs/777/cancel').expect(404);
    expect((await eventArrived(custom('job_cancel_rejected', '777'))).props).toEqual({
      job_id: '777',
      status: 404,
      reason: 'job 777 does not exist',
    });

    const running = await createJob({ projectId: 5, name: 'review' });
    expect((await http().post(`/jobs/${running.id}/cancel`).expect(200)).body).toMatchObject({ status: 'canceled' });
    expect((await settledEvents()).filter((event) => event.props?.job_id === running.id).map((e) => e.name)).toEqual([
      'job_created',
    ]);
  });

  it('invalid input is a 400 and tracks nothing; /health answers without tracking', async () => {
    const before = (await settledEvents()).length;
    await http().post('/jobs').send({ projectId: -1, name: 'x' }).expect(400);
    await http().post('/jobs').send({ projectId: 1 }).expect(400);
    const job = await createJob({ projectId: 9, name: 'zero' });
    await http().post(`/jobs/${job.id}/finish`).send({ minutes: 0 }).expect(400);
    await http().post(`/jobs/${job.id}/finish`).send({ minutes: 'ten' }).expect(400);
    expect((await http().get('/health').expect(200)).body).toMatchObject({
      status: 'ok',
      info: { snowplow: { status: 'up', capacity: 10_000, consecutiveFailures: 0, lastError: null } },
    });

    const after = await settledEvents();
    expect(after.slice(before).map((event) => event.name)).toEqual(['job_created']);
  });

  it('/metrics counts every event the collector received as enqueued and sent', async () => {
    const job = await createJob({ projectId: 11, name: 'metrics' });
    await eventArrived(custom('job_created', job.id));
    const received = (await settledEvents()).length;

    const text = await waitFor(
      async () => {
        const { text: body } = await http().get('/metrics').expect(200);
        return sample(body, 'snowplow_events_sent_total{tracker="default",result="success"}') === received
          ? body
          : undefined;
      },
      { timeoutMs: 15_000, what: `snowplow_events_sent_total{tracker="default",result="success"} ${received}` },
    );
    expect(sample(text, 'snowplow_events_enqueued_total{tracker="default"}')).toBe(received);
    expect(sample(text, 'snowplow_events_sent_total{tracker="default",result="failure"}')).toBe(0);
    expect(sample(text, 'snowplow_events_dropped_total{tracker="default",reason="overflow",kind="custom"}')).toBe(0);
    expect(sample(text, 'snowplow_events_dropped_total{tracker="default",reason="overflow",kind="billing"}')).toBe(0);
    expect(sample(text, 'snowplow_queue_depth{tracker="default"}')).toBe(0);
    expect(sample(text, 'snowplow_queue_capacity{tracker="default"}')).toBe(10_000);
    expect(text).toContain('# TYPE snowplow_batch_duration_seconds histogram');
    // PrometheusModule's default process metrics are served next to the library's.
    expect(text).toContain('# TYPE process_cpu_user_seconds_total counter');
  });
});
