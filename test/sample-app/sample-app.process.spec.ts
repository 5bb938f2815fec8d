import { createServer, Server } from 'node:net';
import type { AddressInfo } from 'node:net';
import { GoodEvent, LocalCollector, startLocalCollector } from '../../lib/testing';
import { waitFor } from '../support/wait-for';
import { buildPackageCopy, SampleProcess } from './support/sample-process';

// `npm start` = `npm run build:sample && exec node sample-app/dist/main.js`. The tests build once,
// with that script in a private copy of the package, then run the built entry the way the script
// does: node itself, in place of the shell, so signals go straight to it.
const BUILD_TIMEOUT_MS = 240_000;

/** Every app of these tests listens on free ports and writes plain log lines. */
const FREE_PORTS = { PORT: '0', COLLECTOR_PORT: '0', SNOWPLOW_COLLECTOR_URL: undefined };

async function postJson(
  url: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: any }> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: await response.json() };
}

async function getJson(url: string): Promise<any> {
  const response = await fetch(url);
  expect(response.status).toBe(200);
  return response.json();
}

describe('the sample app as started by npm start', () => {
  let built: Awaited<ReturnType<typeof buildPackageCopy>> | undefined;
  const apps: SampleProcess[] = [];
  const start = (env: Record<string, string | undefined>) => {
    if (!built) throw new Error('the build failed (see beforeAll)');
    const app = SampleProcess.start(built.dir, built.entry, env);
    apps.push(app);
    return app;
  };

  beforeAll(async () => {
    built = await buildPackageCopy(BUILD_TIMEOUT_MS);
  }, BUILD_TIMEOUT_MS + 10_000);

  afterEach(async () => {
    await Promise.all(apps.splice(0).map((app) => app.kill()));
  });

  afterAll(() => built?.remove());

  it('embedded collector: events reach it, SIGTERM drains the queue into it, closes it and exits 0', async () => {
    const app = start(FREE_PORTS);
    const appUrl = await app.appUrl();
    const [, collectorUrl] = await app.waitForOutput(/embedded local collector at (http:\/\/\S+)/);
    const [, microGood] = await app.waitForOutput(/see them all: curl (localhost:\d+\/micro\/good)/);
    expect(`http://${microGood}`).toBe(`${collectorUrl.replace('127.0.0.1', 'localhost')}/micro/good`);
    const [, viewer] = await app.waitForOutput(/open the event viewer: (http:\S+)/);
    expect(viewer).toBe(`${collectorUrl.replace('127.0.0.1', 'localhost')}/micro/ui`);
    const page = await fetch(viewer);
    expect([page.status, page.headers.get('content-type')]).toEqual([200, 'text/html; charset=utf-8']);

    const created = await postJson(`${appUrl}/jobs`, { projectId: 42, name: 'build' });
    expect(created.status).toBe(201);
    const finished = await postJson(`${appUrl}/jobs/${created.body.id}/finish`, { minutes: 4 });
    expect(finished.status).toBe(200);

    // Before the signal: the embedded collector serves the events on /micro/good.
    const good = await waitFor(
      async () => {
        const events = (await getJson(`${collectorUrl}/micro/good`)) as GoodEvent[];
        return events.length >= 3 ? events : undefined;
      },
      { timeoutMs: 15_000, what: '3 events on /micro/good' },
    );
    expect(good.map((event) => event.name).sort()).toEqual(['ci_minutes', 'job_created', 'job_finished']);
    expect(good.find((event) => event.name === 'ci_minutes')?.contexts[0].data).toMatchObject({
      event_id: finished.body.billing.eventId,
      quantity: 4,
      realm: 'SM',
    });
    expect(await getJson(`${collectorUrl}/micro/all`)).toEqual({ total: 3, good: 3, bad: 0, dropped: 0 });
    await app.waitForOutput(/LocalCollector\] \S+ GOOD se ci_minutes eid=\S+ category="ci"/);
    const metrics = await (await fetch(`${appUrl}/metrics`)).text();
    expect(metrics).toMatch(/^snowplow_events_enqueued_total\{tracker="default"\} 3$/m);

    // One more event, then SIGTERM at once: the drain delivers it before the collector closes.
    expect((await postJson(`${appUrl}/jobs`, { projectId: 42, name: 'last' })).status).toBe(201);
    const exit = await app.stop('SIGTERM');

    expect(exit).toEqual({ code: 0, signal: null });
    expect(app.text).toMatch(/GOOD ue job_created eid=\S+ props=\{"job_id":"2","project_id":42\}/);
    expect(app.text).toContain('SIGTERM: closing once the app has shut down');
    expect(app.text).toContain('closed; it received 4 good and 0 bad events');
    expect(app.text).not.toMatch(/ERROR|WARN/);
  });

  it('Ctrl-C (SIGINT) shuts down the same way', async () => {
    const app = start(FREE_PORTS);
    const appUrl = await app.appUrl();
    expect((await postJson(`${appUrl}/jobs/1/cancel`, {})).status).toBe(404);
    expect(await app.stop('SIGINT')).toEqual({ code: 0, signal: null });
    expect(app.text).toMatch(/GOOD ue job_cancel_rejected eid=\S+ props=\{"job_id":"1","status":404/);
    expect(app.text).toContain('closed; it received 1 good and 0 bad events');
  });

  describe('with SNOWPLOW_COLLECTOR_URL', () => {
    let collector: LocalCollector;
    beforeEach(async () => {
      collector = await startLocalCollector({ port: 0 });
    });
    afterEach(() => collector.close());

    it('sends there, starts no embedded collector, and drains into it on SIGTERM', async () => {
      const app = start({ ...FREE_PORTS, SNOWPLOW_COLLECTOR_URL: collector.url, SNOWPLOW_APP_ID: 'sample-process' });
      const appUrl = await app.appUrl();
      // A bare origin gets the tp2 path.
      await app.waitForOutput(
        new RegExp(`Snowplow events go to ${collector.endpoint.replace(/[.]/g, '\\.')} \\(SNOWPLOW_COLLECTOR_URL\\)`),
      );
      expect(app.text).not.toContain('embedded local collector');

      const created = await postJson(`${appUrl}/jobs`, { projectId: 7, name: 'remote' });
      await collector.waitFor((s) => s.good.some((event) => event.name === 'job_created'), { timeoutMs: 15_000 });
      expect(collector.good()[0].raw.aid).toBe('sample-process');

      await postJson(`${appUrl}/jobs/${created.body.id}/finish`, { minutes: 1.5 });
      // The app closes itself on the signal and exits 0 (Nest's enableShutdownHooks would raise the
      // signal again after its hooks: exit status 143 here, 130 for Ctrl-C).
      expect(await app.stop('SIGTERM')).toEqual({ code: 0, signal: null });
      expect(app.text).toContain('SIGTERM: closing once the app has shut down');
      expect(
        collector
          .good()
          .map((event) => event.name)
          .sort(),
      ).toEqual(['ci_minutes', 'job_created', 'job_finished']);
      expect(collector.bad()).toEqual([]);
    });

    it('Ctrl-C (SIGINT) drains into it and exits 0', async () => {
      const app = start({ ...FREE_PORTS, SNOWPLOW_COLLECTOR_URL: collector.url });
      const appUrl = await app.appUrl();
      expect((await postJson(`${appUrl}/jobs`, { projectId: 7, name: 'ctrl-c' })).status).toBe(201);

      expect(await app.stop('SIGINT')).toEqual({ code: 0, signal: null });
      expect(collector.good().map((event) => event.name)).toEqual(['job_created']);
      expect(app.text).not.toMatch(/ERROR|WARN/);
    });
  });

  it("the walk-through's billing commands: X-Request-Id becomes the correlation_id of both billing events", async () => {
    const app = start(FREE_PORTS);
    const appUrl = await app.appUrl();
    const [, collectorUrl] = await app.waitForOutput(/embedded local collector at (http:\/\/\S+)/);

    const created = await postJson(`${appUrl}/jobs`, { projectId: 42, namespaceId: 7, name: 'build' });
    const id = created.body.id as string;
    const requestId = { 'X-Request-Id': 'req-123' };
    expect((await postJson(`${appUrl}/jobs/${id}/finish`, { minutes: 12.5 }, requestId)).status).toBe(200);
    const explained = await postJson(`${appUrl}/jobs/${id}/explain`, {}, { 'X-Request-Id': 'req-124' });
    expect(explained).toEqual({
      status: 200,
      body: {
        jobId: id,
        projectId: 42,
        summary: `Job ${id} "build" of project 42 is finished after 12.5 minutes.`,
        usage: { tokens: 44, realm: 'SM' },
      },
    });

    const good = await waitFor(
      async () => {
        const events = (await getJson(`${collectorUrl}/micro/good`)) as GoodEvent[];
        return events.length >= 4 ? events : undefined;
      },
      { timeoutMs: 15_000, what: '4 events on /micro/good' },
    );
    const usage = (name: string) => good.find((event) => event.name === name)?.contexts[0].data;
    expect(usage('ci_minutes')).toMatchObject({ quantity: 12.5, correlation_id: 'req-123', entity_id: `job-${id}` });
    expect(usage('duo_job_summary')).toMatchObject({
      event_type: 'duo_job_summary',
      unit_of_measure: 'token',
      quantity: 44,
      realm: 'SM',
      project_id: 42,
      correlation_id: 'req-124',
      entity_id: `job-${id}`,
    });
    expect(good.find((event) => event.name === 'job_finished')?.props).toMatchObject({ request_id: 'req-123' });
    await app.waitForOutput(/GOOD se duo_job_summary eid=\S+ category="duo" label="\S+" value="44"/);
    expect(await app.stop('SIGINT')).toEqual({ code: 0, signal: null });
    expect(app.text).toContain('closed; it received 4 good and 0 bad events');
  });

  it("the walk-through's rating: an event of the sample's own schema, validated by the embedded collector", async () => {
    const app = start(FREE_PORTS);
    const appUrl = await app.appUrl();
    const [, collectorUrl] = await app.waitForOutput(/embedded local collector at (http:\/\/\S+)/);

    const created = await postJson(`${appUrl}/jobs`, { projectId: 42, name: 'build' });
    const id = created.body.id as string;
    const rated = await postJson(
      `${appUrl}/jobs/${id}/rate`,
      { rating: 5, comment: 'fast' },
      { 'User-Agent': 'Mozilla/5.0 (X11; Linux x86_64)' },
    );
    expect(rated).toEqual({ status: 200, body: { jobId: id, rating: 5, eid: expect.any(String) } });

    // The built app finds sample-app/iglu from dist/: the event is good, not bad.
    const good = await waitFor(
      async () => {
        const events = (await getJson(`${collectorUrl}/micro/good`)) as GoodEvent[];
        return events.find((event) => event.eid === rated.body.eid);
      },
      { timeoutMs: 15_000, what: 'job_rated on /micro/good' },
    );
    expect(good).toMatchObject({
      eventType: 'ue',
      name: 'job_rated',
      schema: 'iglu:com.example/job_rated/jsonschema/1-0-0',
      data: { rating: 5, comment: 'fast' },
      contexts: [
        {
          schema: 'iglu:com.example/job/jsonschema/1-0-0',
          data: { job_id: id, project_id: 42, status: 'running' },
        },
      ],
      raw: { ua: 'Mozilla/5.0 (X11; Linux x86_64)', ip: expect.stringMatching(/127\.0\.0\.1|::1/) },
    });
    await app.waitForOutput(/GOOD ue job_rated eid=\S+ data=\{"rating":5,"comment":"fast"\} contexts=job@1-0-0/);
    expect(await getJson(`${collectorUrl}/micro/all`)).toEqual({ total: 2, good: 2, bad: 0, dropped: 0 });
    expect(await app.stop('SIGINT')).toEqual({ code: 0, signal: null });
  });

  it('a wrong variable stops startup with exit code 1 and names it', async () => {
    const app = start({ ...FREE_PORTS, PORT: 'http' });
    expect(await app.exited).toEqual({ code: 1, signal: null });
    expect(app.text).toContain('could not start: PORT must be an integer >= 0, got "http"');
  });

  it('a busy collector port stops startup with exit code 1 and says what to do', async () => {
    const busy: Server = createServer();
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    try {
      const app = start({ ...FREE_PORTS, COLLECTOR_PORT: String((busy.address() as AddressInfo).port) });
      expect(await app.exited).toEqual({ code: 1, signal: null });
      expect(app.text).toMatch(
        /could not start: the embedded collector cannot listen on 127\.0\.0\.1:\d+, which is in use/,
      );
    } finally {
      await new Promise((resolve) => busy.close(resolve));
    }
  });
});
