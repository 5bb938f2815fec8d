// Every public object that holds a credential (a collector URL with a password, a token source)
// prints neither the password nor the token, whichever way a log line or an error report prints
// it. Token sources on their own are covered by test/auth/secrets.spec.ts.
import { inspect } from 'node:util';
import {
  Emitter,
  EmitterService,
  SendResult,
  SnowplowModule,
  StaticTokenSource,
  Tracker,
  TrackerService,
} from '../lib';
import { createApp } from './support/nest';
import { quietLogger } from './support/emitter-harness';
import { LocalCollector, startLocalCollector } from '../lib/testing/local-collector';
import { waitFor } from './support/wait-for';

const PASSWORD = 'pw-7c1e9a2b44';
const TOKEN = 'tok-5d2f8b0e61c3';
const deep = { showHidden: true, depth: Infinity } as const;

function printed(value: unknown): Record<string, string> {
  return {
    'JSON.stringify': JSON.stringify(value) ?? '',
    'util.inspect showHidden': inspect(value, deep),
    'util.inspect customInspect: false': inspect(value, { ...deep, customInspect: false }),
    String: String(value),
    'nested util.inspect': inspect({ nested: { value } }, deep),
  };
}

function expectNoSecret(name: string, value: unknown): void {
  for (const [how, text] of Object.entries(printed(value))) {
    for (const secret of [
      PASSWORD,
      encodeURIComponent(PASSWORD),
      TOKEN,
      Buffer.from(`user:${PASSWORD}`).toString('base64'),
    ]) {
      if (text.includes(secret)) throw new Error(`${how} of ${name} shows a secret:\n${text.slice(0, 2_000)}`);
    }
  }
}

describe('objects holding credentials never print them', () => {
  let collector: LocalCollector;
  beforeEach(async () => {
    collector = await startLocalCollector();
  });
  afterEach(() => collector.close());

  it('an Emitter and a Tracker with a password in collectorUrl, their options, stats and callback results, before and after sending', async () => {
    collector.behaviour = (request) => (request.headers.authorization ? { status: 200 } : { status: 401 });
    const url = collector.endpoint.replace('http://', `http://user:${encodeURIComponent(PASSWORD)}@`);
    const results: SendResult[] = [];
    const emitter = new Emitter({
      collectorUrl: url,
      logger: quietLogger,
      callback: (s, f) => void results.push(...s, ...f),
    });
    const tracker = new Tracker({ appId: 'secrets', emitter });
    const objects = { emitter, tracker, options: emitter.options, stats: emitter.stats() };
    for (const [name, value] of Object.entries(objects)) expectNoSecret(name, value);
    emitter.start();
    tracker.trackEvent('with_password');
    await collector.waitForEvents(1);
    expect(collector.requests[0].headers.authorization).toBe(
      `Basic ${Buffer.from(`user:${PASSWORD}`).toString('base64')}`,
    );
    await waitFor(() => results.length > 0, { what: 'the callback' });
    for (const [name, value] of Object.entries({ ...objects, results, stats: emitter.stats() }))
      expectNoSecret(name, value);
    expect(emitter.collectorUrl).toContain('user:***@');
    await emitter.stop();
  });

  it("errors of a refused request do not carry the URL's password", async () => {
    await collector.close();
    const url = collector.endpoint.replace('http://', `http://user:${PASSWORD}@`);
    const failures: SendResult[] = [];
    const emitter = new Emitter({
      collectorUrl: url,
      logger: quietLogger,
      callback: (_s, f) => void failures.push(...f),
    });
    emitter.start();
    new Tracker({ appId: 'secrets', emitter }).trackEvent('refused');
    await waitFor(() => failures.length > 0, { what: 'a failed attempt' });
    expectNoSecret('the failure', failures);
    expectNoSecret('the failure error', failures[0].error);
    expectNoSecret('stats().lastError', emitter.stats().lastError);
    await emitter.stop();
    await collector.reopen();
  });

  it('an Emitter with a token source, and the Nest EmitterService and TrackerService', async () => {
    const tokenSource = new StaticTokenSource(TOKEN);
    const emitter = new Emitter({ collectorUrl: collector.endpoint, tokenSource, logger: quietLogger });
    emitter.start();
    new Tracker({ appId: 'secrets', emitter }).trackEvent('with_token');
    await collector.waitForEvents(1);
    expect(collector.requests[0].headers.authorization).toBe(`Bearer ${TOKEN}`);
    expectNoSecret('emitter', emitter);
    expectNoSecret('emitter.options', emitter.options);
    await emitter.stop();

    const app = await createApp({
      imports: [
        SnowplowModule.forRoot({ collectorUrl: collector.endpoint, appId: 'secrets', tokenSource, metrics: false }),
      ],
    });
    app.get(TrackerService).trackEvent('nest_with_token');
    await collector.waitForEvents(2);
    expectNoSecret('EmitterService', app.get(EmitterService));
    expectNoSecret('TrackerService', app.get(TrackerService));
    await app.close();
  });
});
