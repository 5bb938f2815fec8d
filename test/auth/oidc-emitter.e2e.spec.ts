import { decodeJwt } from 'jose';
import { Emitter, EmitterOptions, OidcTokenSource, SendResult, Tracker } from '../../lib/core';
import { quietLogger } from '../support/emitter-harness';
import { waitFor } from '../support/wait-for';
import { OidcTestProvider } from './support/oidc-test-provider';
import { SecuredCollector } from './support/secured-collector';

describe('Emitter + OidcTokenSource against a real OpenID provider and a collector that requires its tokens', () => {
  let provider: OidcTestProvider;
  let collector: SecuredCollector;
  let emitter: Emitter | undefined;
  /** jti of tokens the collector no longer accepts. */
  let revoked: Set<string>;

  beforeEach(async () => {
    revoked = new Set();
    provider = await OidcTestProvider.start();
    collector = await SecuredCollector.start(async (token) => {
      const claims = await provider.verifyAccessToken(token, collector.url);
      if (revoked.has(String(claims.jti))) throw new Error('token revoked');
    });
  });

  afterEach(async () => {
    await emitter?.stop();
    emitter = undefined;
    await collector.close();
    await provider.stop();
  });

  function tokenSource(): OidcTokenSource {
    return new OidcTokenSource({
      issuer: provider.issuer,
      clientId: provider.clientId,
      clientSecret: provider.clientSecret,
      allowInsecureHttp: true,
      requestTimeoutMs: 5_000,
    });
  }

  function start(options: Partial<EmitterOptions> = {}): Tracker {
    emitter = new Emitter({
      collectorUrl: collector.endpoint,
      tokenSource: tokenSource(),
      logger: quietLogger,
      backoff: { baseMs: 20, capMs: 250 },
      ...options,
    });
    emitter.start();
    return new Tracker({ appId: 'oidc-e2e', emitter });
  }

  function track(tracker: Tracker, count: number, offset = 0): string[] {
    return Array.from({ length: count }, (_, i) => tracker.trackEvent('authenticated', { i: i + offset }).eid);
  }

  async function expectDelivered(eids: string[]): Promise<void> {
    await waitFor(() => collector.events.length >= eids.length, {
      timeoutMs: 30_000,
      what: `${eids.length} events at the collector (have ${collector.events.length})`,
    });
    const delivered = collector.events.map((e) => e.eid);
    expect(delivered).toHaveLength(eids.length);
    expect([...delivered].sort()).toEqual([...eids].sort());
  }

  it('the collector answers 401 without a token, with a garbage token and with a token for another audience', async () => {
    const post = (authorization?: string) =>
      fetch(collector.endpoint, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', ...(authorization ? { Authorization: authorization } : {}) },
        body: JSON.stringify({ schema: 'iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4', data: [] }),
      }).then((r) => r.status);
    const otherAudience = await tokenSource().getToken('http://127.0.0.1:1');
    const rightAudience = await tokenSource().getToken(collector.url);

    expect(await post()).toBe(401);
    expect(await post('Bearer not-a-jwt')).toBe(401);
    expect(await post(`Bearer ${otherAudience}`)).toBe(401);
    expect(await post(`Bearer ${rightAudience}`)).toBe(200);
    expect(collector.refused().map((r) => r.reason)).toEqual([
      'no Authorization header',
      expect.stringMatching(/^JWSInvalid/),
      expect.stringMatching(/^JWTClaimValidationFailed: unexpected "aud"/),
    ]);
  });

  it('delivers all 500 events with bearer tokens for the collector origin, from one token request', async () => {
    const tracker = start({ batchSize: 25, maxBatchSize: 25 });
    const eids = track(tracker, 500);
    await expectDelivered(eids);

    expect(collector.refused()).toEqual([]);
    expect(collector.requests.length).toBeGreaterThanOrEqual(20);
    expect(provider.tokenRequests).toEqual([expect.objectContaining({ status: 200, audience: collector.url })]);
    expect(emitter!.stats().dropped).toEqual({
      overflow: 0,
      rejected: 0,
      too_large: 0,
      expired: 0,
      shutdown: 0,
      not_stored: 0,
    });
  });

  it('while the provider is down the callback reports -1 and keeps the events; they are delivered once it is back', async () => {
    await provider.stop();
    const failures: SendResult[] = [];
    const successes: SendResult[] = [];
    const tracker = start({
      batchSize: 50,
      callback: (ok, failed) => {
        successes.push(...ok);
        failures.push(...failed);
      },
    });
    const eids = track(tracker, 200);

    await waitFor(() => failures.length >= 3, { what: 'three failed batches while the provider is down' });
    expect(successes).toEqual([]);
    expect(collector.requests).toEqual([]);
    for (const failure of failures) {
      expect(failure.statusCode).toBe(-1);
      expect(failure.error?.message).toMatch(
        /^token source failed \(OpenID discovery for issuer http:\/\/127\.0\.0\.1:\d+\/ failed: .*ECONNREFUSED/,
      );
      expect(failure.error?.message).not.toContain(provider.clientSecret);
    }
    expect(emitter!.stats().dropped).toEqual({
      overflow: 0,
      rejected: 0,
      too_large: 0,
      expired: 0,
      shutdown: 0,
      not_stored: 0,
    });
    expect(emitter!.queueDepth + emitter!.stats().inFlight).toBe(200);

    await provider.restart();
    await expectDelivered(eids);
    // The callback runs once a send pass has ended, after the collector has the events.
    const succeeded = () => successes.reduce((n, r) => n + r.eventCount, 0);
    await waitFor(() => succeeded() >= 200, { what: 'the callback to report 200 successes' });
    expect(succeeded()).toBe(200);
    expect(collector.refused()).toEqual([]);
    expect(provider.issuedTokens).toBe(1);
  });

  it('a token the collector stops accepting is invalidated on the 401 and replaced; nothing is lost', async () => {
    const tracker = start({ batchSize: 10, maxConcurrentRequests: 1 });
    const first = track(tracker, 10);
    await expectDelivered(first);
    expect(provider.issuedTokens).toBe(1);

    const accepted = collector.requests.length;
    revoked.add(String(decodeJwt(await tokenIssuedLast()).jti));
    const second = track(tracker, 30, 10);
    await expectDelivered([...first, ...second]);

    expect(collector.refused()).toHaveLength(1);
    expect(collector.requests[accepted].status).toBe(401);
    expect(provider.issuedTokens).toBe(2);
    expect(emitter!.stats().dropped.rejected).toBe(0);
  });

  /** The token the emitter's source holds for the collector (cached: no new token request). */
  function tokenIssuedLast(): Promise<string> {
    return (emitter!.options.tokenSource as OidcTokenSource).getToken(collector.url);
  }
});
