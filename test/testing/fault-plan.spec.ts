// The local collector's fault plan, set over HTTP and driven against a real core Emitter: every
// fault kind, counts, seeded probabilities and a match that refuses one poison event.
import { SendResult, Tracker } from '../../lib/core';
import { InvalidFaultPlanError } from '../../lib/testing/fault-plan';
import { LocalCollector, startLocalCollector } from '../../lib/testing/local-collector';
import { useEmitterHarness } from '../support/emitter-harness';
import { waitFor } from '../support/wait-for';

async function setPlan(collector: LocalCollector, plan: unknown): Promise<Response> {
  return fetch(`${collector.url}/micro/faults`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(plan),
  });
}

async function mustSet(collector: LocalCollector, plan: unknown): Promise<void> {
  const response = await setPlan(collector, plan);
  expect(response.status).toBe(200);
}

const eidsOf = (collector: LocalCollector) => collector.events().map((e) => e.eid);

describe('the fault plan over HTTP', () => {
  const harness = useEmitterHarness({ appId: 'faults' });
  const fast = { backoff: { baseMs: 20, factor: 1, capMs: 20 }, maxConcurrentRequests: 1 };

  it('GET reads the plan and what each step took, POST sets it, DELETE clears it', async () => {
    const { collector } = harness;
    const read = async () => (await fetch(`${collector.url}/micro/faults`)).json();
    expect(await read()).toEqual({ plan: null, applied: [] });
    const plan = { steps: [{ status: 503, count: 1 }, { delayMs: 5 }] };
    const set = await setPlan(collector, plan);
    expect(set.status).toBe(200);
    expect(await set.json()).toEqual({ plan, applied: [0, 0] });
    expect(collector.faults()).toEqual({ plan, applied: [0, 0] });
    const { tracker } = harness.start(fast);
    tracker.trackEvent('one');
    await collector.waitForEvents(1);
    expect(await read()).toEqual({ plan, applied: [1, 1] });
    const cleared = await fetch(`${collector.url}/micro/faults`, { method: 'DELETE' });
    expect(await cleared.json()).toEqual({ plan: null, applied: [] });
    expect(await read()).toEqual({ plan: null, applied: [] });
  });

  it('a status with Retry-After: the emitter waits what the collector asked, then delivers; the request is marked', async () => {
    const { collector } = harness;
    await mustSet(collector, { steps: [{ status: 503, retryAfter: 2, count: 1 }] });
    const failures: SendResult[] = [];
    // Without the Retry-After the retry would come after ~20 ms.
    const { tracker } = harness.start({ ...fast, callback: (_s, f) => void failures.push(...f) });
    const { eid } = tracker.trackEvent('later');
    await collector.waitForEvents(1);
    const [refused, delivered] = collector.requests;
    expect(refused).toMatchObject({
      status: 503,
      fate: 'answered',
      fault: { source: 'plan', step: 0, kind: 'status' },
    });
    expect(delivered).toMatchObject({ status: 200, fate: 'answered' });
    expect(delivered.fault).toBeUndefined();
    expect(delivered.receivedAt - refused.receivedAt).toBeGreaterThanOrEqual(1_900);
    expect(eidsOf(collector)).toEqual([eid]);
    expect(failures).toEqual([expect.objectContaining({ statusCode: 503, eids: [eid] })]);
    const direct = await fetch(collector.endpoint, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: '{}',
    });
    expect(direct.status).toBe(400); // the count is used up: the normal answer (a bad envelope) again
  });

  it('a 3xx with a Location: the emitter does not follow it and logs where it pointed', async () => {
    const { collector } = harness;
    await mustSet(collector, { steps: [{ status: 302, location: 'http://127.0.0.1:9/moved', count: 2 }] });
    const lines: string[] = [];
    const logger = { warn: (m: string) => void lines.push(m), error: (m: string) => void lines.push(m) };
    const { tracker } = harness.start({ ...fast, logger });
    tracker.trackEvent('moved');
    await collector.waitForEvents(1);
    expect(collector.requests.map((r) => r.status)).toEqual([302, 302, 200]);
    expect(lines.join('\n')).toContain('HTTP 302 redirecting to http://127.0.0.1:9/moved');
  });

  it('a delay: the answer comes after delayMs, and the events are stored', async () => {
    const { collector } = harness;
    await mustSet(collector, { steps: [{ delayMs: 1_500 }] });
    const { tracker, emitter } = harness.start(fast);
    const startedAt = Date.now();
    const { eid } = tracker.trackEvent('slow');
    await collector.waitForEvents(1);
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(1_450);
    expect(collector.requests).toEqual([
      expect.objectContaining({ status: 200, fault: { source: 'plan', step: 0, kind: 'delay' } }),
    ]);
    expect(collector.good().map((e) => e.eid)).toEqual([eid]);
    await waitFor(() => emitter.stats().sent === 1, { what: 'the event counted as sent' });
  });

  it('a delayed status: the emitter times out first, then the retry is delivered', async () => {
    const { collector } = harness;
    await mustSet(collector, { steps: [{ status: 200, delayMs: 3_000, count: 1 }] });
    const failures: SendResult[] = [];
    const { tracker } = harness.start({
      ...fast,
      requestTimeoutMs: 500,
      callback: (_s, f) => void failures.push(...f),
    });
    tracker.trackEvent('timed-out');
    await waitFor(() => collector.requests.length >= 2 && collector.events().length >= 1, { what: 'the retry' });
    expect(failures[0]).toMatchObject({ statusCode: -1 });
  });

  it('a hang: the whole body was read, never answered; the emitter times out and retries', async () => {
    const { collector } = harness;
    await mustSet(collector, { steps: [{ hang: true, count: 1 }] });
    const { tracker } = harness.start({ ...fast, requestTimeoutMs: 500 });
    const { eid } = tracker.trackEvent('hung');
    await collector.waitForEvents(1);
    expect(collector.requests[0]).toMatchObject({ fate: 'hung', complete: true, fault: { kind: 'hang', step: 0 } });
    expect(collector.requests[0].status).toBeUndefined();
    expect(collector.ambiguousEids()).toEqual(new Set([eid]));
    expect(collector.counts()).toEqual({ accepted: { total: 1, distinct: 1 }, stored: { total: 2, distinct: 1 } });
  });

  it('a reset: the connection is reset after the body; the emitter retries and delivers', async () => {
    const { collector } = harness;
    await mustSet(collector, { steps: [{ reset: true, count: 1 }] });
    const failures: SendResult[] = [];
    const { tracker } = harness.start({ ...fast, callback: (_s, f) => void failures.push(...f) });
    const { eid } = tracker.trackEvent('reset');
    await collector.waitForEvents(1);
    expect(collector.requests.map((r) => r.fate)).toEqual(['reset', 'answered']);
    expect(collector.requests[0].fault).toEqual({ source: 'plan', step: 0, kind: 'reset' });
    expect(failures).toEqual([expect.objectContaining({ statusCode: -1, eids: [eid] })]);
    expect(eidsOf(collector)).toEqual([eid]);
  });

  it('count: a step takes that many requests, then the next step, then the normal answer', async () => {
    const { collector } = harness;
    await mustSet(collector, {
      steps: [
        { status: 500, count: 2 },
        { status: 429, count: 1 },
      ],
    });
    const { tracker } = harness.start(fast);
    tracker.trackEvent('counted');
    await collector.waitForEvents(1);
    expect(collector.requests.map((r) => [r.status, r.fault?.step])).toEqual([
      [500, 0],
      [500, 0],
      [429, 1],
      [200, undefined],
    ]);
  });

  it('a match refuses exactly the poison event: the emitter splits the batch, the other events are delivered', async () => {
    const { collector } = harness;
    await mustSet(collector, { steps: [{ status: 400, match: { path: '/props/kind', equals: 'poison' } }] });
    const failures: SendResult[] = [];
    const { tracker, emitter } = harness.start({
      batchSize: 50,
      lingerMs: 1_000,
      callback: (_s, f) => void failures.push(...f),
    });
    const eids = Array.from({ length: 50 }, (_, i) => tracker.trackEvent('item', { i, kind: 'fine' }).eid);
    const poison = tracker.trackEvent('item', { i: 50, kind: 'poison' }).eid;
    expect((await emitter.drain(20_000)).drained).toBe(true);
    expect(eidsOf(collector).sort()).toEqual([...eids].sort());
    expect(failures).toEqual([expect.objectContaining({ statusCode: 400, eventCount: 1, eids: [poison] })]);
    expect(emitter.stats().dropped.rejected).toBe(1);
    const faulted = collector.requests.filter((r) => r.fault);
    expect(faulted.every((r) => r.status === 400 && r.body.includes(poison))).toBe(true);
    expect(faulted.at(-1)!.body).not.toContain(eids[0]);
  });

  it('a field match works on the raw payload (here the app id)', async () => {
    const { collector } = harness;
    await mustSet(collector, { steps: [{ status: 400, match: { field: 'aid', equals: 'poison-app' } }] });
    const failures: SendResult[] = [];
    const { tracker, emitter } = harness.start({ ...fast, callback: (_s, f) => void failures.push(...f) });
    const poisoned = new Tracker({ appId: 'poison-app', emitter });
    const good = [tracker.trackEvent('a').eid, tracker.trackEvent('b').eid];
    const poison = poisoned.trackEvent('c').eid;
    expect((await emitter.drain(20_000)).drained).toBe(true);
    expect(eidsOf(collector).sort()).toEqual(good.sort());
    expect(failures).toEqual([expect.objectContaining({ statusCode: 400, eids: [poison] })]);
  });

  it('a seeded probability: the same seed faults the same requests, another seed others', async () => {
    const { collector } = harness;
    const pattern = async (seed: number) => {
      collector.reset();
      await mustSet(collector, { steps: [{ status: 503, probability: 0.5, seed }] });
      const { tracker, emitter } = harness.start({ ...fast, batchSize: 1, maxBatchSize: 1 });
      for (let i = 0; i < 20; i++) tracker.trackEvent('random', { i });
      await collector.waitForEvents(20);
      await emitter.stop();
      return collector.requests.map((r) => (r.fault ? 'F' : '.')).join('');
    };
    const first = await pattern(42);
    const again = await pattern(42);
    const other = await pattern(7);
    const common = Math.min(first.length, again.length);
    expect(common).toBeGreaterThanOrEqual(20);
    expect(again.slice(0, common)).toBe(first.slice(0, common));
    expect(other.slice(0, 20)).not.toBe(first.slice(0, 20));
    // About half of the requests are faulted, and every event still arrives.
    const faulted = [...first].filter((c) => c === 'F').length / first.length;
    expect(faulted).toBeGreaterThan(0.2);
    expect(faulted).toBeLessThan(0.8);
    expect(collector.counts().accepted).toEqual({ total: 20, distinct: 20 });
  });

  it('GET /micro/requests lists each tracker request with its fate and fault, without headers or bodies', async () => {
    const { collector } = harness;
    await mustSet(collector, { steps: [{ status: 500, count: 1 }] });
    const { tracker } = harness.start(fast);
    tracker.trackEvent('listed');
    await collector.waitForEvents(1);
    const listed = (await (await fetch(`${collector.url}/micro/requests`)).json()) as Record<string, unknown>[];
    expect(listed).toEqual([
      expect.objectContaining({ method: 'POST', path: '/com.snowplowanalytics.snowplow/tp2', status: 500 }),
      expect.objectContaining({ status: 200, fate: 'answered' }),
    ]);
    expect(listed[0].fault).toEqual({ source: 'plan', step: 0, kind: 'status' });
    expect(Object.keys(listed[0])).not.toContain('headers');
    expect(Object.keys(listed[0])).not.toContain('body');
  });

  it.each([
    ['not an object', [], 'plan', 'must be an object'],
    ['no steps', { steps: [] }, 'steps', 'must be an array of 1 to 100 steps'],
    ['an unknown plan key', { steps: [{ status: 500 }], seed: 1 }, 'seed', 'is not a plan key'],
    ['an unknown step key', { steps: [{ status: 500, statuss: 1 }] }, 'steps[0].statuss', 'is not a step key'],
    ['a status out of range', { steps: [{ status: 700 }] }, 'steps[0].status', 'must be an integer 200-599'],
    ['a status as text', { steps: [{ status: '503' }] }, 'steps[0].status', 'must be an integer 200-599'],
    ['no action', { steps: [{ count: 2 }] }, 'steps[0]', 'needs one of "status", "hang", "reset" or "delayMs"'],
    ['two actions', { steps: [{ status: 500, hang: true }] }, 'steps[0].hang', 'cannot be combined with "status"'],
    [
      'a Retry-After without status',
      { steps: [{ reset: true, retryAfter: 1 }] },
      'steps[0].retryAfter',
      'needs a "status"',
    ],
    [
      'a header with a line break',
      { steps: [{ status: 302, location: 'x\r\nSet-Cookie: a' }] },
      'steps[0].location',
      'printable ASCII',
    ],
    [
      'a hang with a delay',
      { steps: [{ hang: true, delayMs: 5 }] },
      'steps[0].delayMs',
      'cannot be combined with "hang"',
    ],
    ['a negative delay', { steps: [{ delayMs: -1 }] }, 'steps[0].delayMs', 'must be an integer 0-600000'],
    ['count 0', { steps: [{ status: 500, count: 0 }] }, 'steps[0].count', 'must be a positive integer'],
    ['probability 0', { steps: [{ status: 500, probability: 0 }] }, 'steps[0].probability', 'above 0 and at most 1'],
    [
      'probability 1.5',
      { steps: [{ status: 500, probability: 1.5 }] },
      'steps[0].probability',
      'above 0 and at most 1',
    ],
    ['a seed without probability', { steps: [{ status: 500, seed: 3 }] }, 'steps[0].seed', 'needs a probability'],
    [
      'a fractional seed',
      { steps: [{ status: 500, probability: 0.5, seed: 1.5 }] },
      'steps[0].seed',
      'must be an integer',
    ],
    [
      'a match with both',
      { steps: [{ status: 400, match: { field: 'e', path: '/x', equals: 'a' } }] },
      'steps[0].match',
      'exactly one of',
    ],
    [
      'a field match on a number',
      { steps: [{ status: 400, match: { field: 'e', equals: 1 } }] },
      'steps[0].match.equals',
      'must be a string',
    ],
    [
      'a path that is no pointer',
      { steps: [{ status: 400, match: { path: 'data', equals: 1 } }] },
      'steps[0].match.path',
      'JSON pointer',
    ],
    [
      'an object to equal',
      { steps: [{ status: 400, match: { path: '/a', equals: {} } }] },
      'steps[0].match.equals',
      'must be a string, number',
    ],
  ])('refuses %s with a 400 naming the field, and keeps the plan in force', async (_case, plan, field, reason) => {
    const { collector } = harness;
    await mustSet(collector, { steps: [{ status: 418 }] });
    const response = await setPlan(collector, plan);
    expect(response.status).toBe(400);
    const body = (await response.json()) as { error: string; field: string; code: string };
    expect(body).toMatchObject({ field, code: 'INVALID_FAULT_PLAN' });
    expect(body.error).toContain(`"${field}"`);
    expect(body.error).toContain(reason);
    expect(collector.faults().plan).toEqual({ steps: [{ status: 418 }] });
    expect(() => collector.setFaults(plan as never)).toThrow(InvalidFaultPlanError);
  });

  it('refuses a body that is not JSON, and null, with a 400', async () => {
    const { collector } = harness;
    for (const body of ['{"steps":', 'null']) {
      const response = await fetch(`${collector.url}/micro/faults`, { method: 'POST', body });
      expect(response.status).toBe(400);
      expect(await response.json()).toMatchObject({ field: 'plan' });
    }
    expect(collector.faults()).toEqual({ plan: null, applied: [] });
  });

  it('never faults the collector own routes, so a plan can always be read and cleared', async () => {
    const { collector } = harness;
    await mustSet(collector, { steps: [{ hang: true }] });
    expect((await fetch(`${collector.url}/micro/all`)).status).toBe(200);
    expect((await fetch(`${collector.url}/micro/faults`, { method: 'DELETE' })).status).toBe(200);
    const { tracker } = harness.start(fast);
    tracker.trackEvent('after');
    await collector.waitForEvents(1);
    expect(collector.requests.every((r) => r.fault === undefined)).toBe(true);
  });
});

describe('the fault plan from LocalCollector options and setFaults', () => {
  const collectors: LocalCollector[] = [];
  afterEach(async () => {
    await Promise.all(collectors.splice(0).map((c) => c.close()));
  });
  const post = (collector: LocalCollector) =>
    fetch(collector.endpoint, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{}' });

  it('options.faults is in force from the start, and GET /micro/faults shows it', async () => {
    const faults = { steps: [{ status: 429, retryAfter: 'Wed, 21 Oct 2037 07:28:00 GMT', count: 1 }] };
    const collector = await startLocalCollector({ faults });
    collectors.push(collector);
    const refused = await post(collector);
    expect(refused.status).toBe(429);
    expect(refused.headers.get('retry-after')).toBe('Wed, 21 Oct 2037 07:28:00 GMT');
    expect((await post(collector)).status).toBe(400);
    expect(await (await fetch(`${collector.url}/micro/faults`)).json()).toEqual({ plan: faults, applied: [1] });
  });

  it('a bad options.faults rejects the start with InvalidFaultPlanError naming the field', async () => {
    const faults = { steps: [{ status: 503, probability: -1 }] };
    const started = startLocalCollector({ faults });
    await expect(started).rejects.toThrow(InvalidFaultPlanError);
    await expect(started).rejects.toMatchObject({
      code: 'INVALID_FAULT_PLAN',
      field: 'steps[0].probability',
      message: 'Invalid fault plan "steps[0].probability": must be a number above 0 and at most 1',
    });
  });

  it('setFaults replaces the plan at run time with fresh counts; null clears it; a bad plan leaves it as it was', async () => {
    const collector = await startLocalCollector();
    collectors.push(collector);
    expect(collector.setFaults({ steps: [{ status: 500, count: 1 }] })).toEqual({
      plan: { steps: [{ status: 500, count: 1 }] },
      applied: [0],
    });
    expect((await post(collector)).status).toBe(500);
    expect(collector.faults().applied).toEqual([1]);
    collector.setFaults({ steps: [{ status: 500, count: 1 }] });
    expect((await post(collector)).status).toBe(500);
    expect(() => collector.setFaults({ steps: [{ status: 500, location: '' }] } as never)).toThrow(
      'Invalid fault plan "steps[0].location"',
    );
    expect(collector.faults()).toEqual({ plan: { steps: [{ status: 500, count: 1 }] }, applied: [1] });
    expect(collector.setFaults(null)).toEqual({ plan: null, applied: [] });
    expect((await post(collector)).status).toBe(400);
  });

  it('the behaviour hook comes before the plan; returning undefined leaves the request to it', async () => {
    const collector = await startLocalCollector({ faults: { steps: [{ status: 503 }] } });
    collectors.push(collector);
    collector.behaviour = (_request, index) => (index === 0 ? { status: 418 } : undefined);
    expect((await post(collector)).status).toBe(418);
    expect((await post(collector)).status).toBe(503);
    expect(collector.requests.map((r) => r.fault)).toEqual([
      { source: 'behaviour', kind: 'status' },
      { source: 'plan', step: 0, kind: 'status' },
    ]);
  });

  it('close and reopen: the same port, the log and the plan stay', async () => {
    const collector = await startLocalCollector({ faults: { steps: [{ status: 500, count: 1 }] } });
    collectors.push(collector);
    const { port } = collector;
    expect((await post(collector)).status).toBe(500);
    await collector.close();
    await expect(post(collector)).rejects.toThrow();
    await collector.reopen();
    expect(collector.port).toBe(port);
    expect((await post(collector)).status).toBe(400);
    expect(collector.requests.map((r) => r.status)).toEqual([500, 400]);
  });
});

describe('the request log is bounded', () => {
  it('keeps the newest maxRequests requests, counts the dropped ones, and the hook index runs on', async () => {
    const collector = await startLocalCollector({ maxRequests: 3 });
    try {
      const indexes: number[] = [];
      collector.behaviour = (_request, index) => void indexes.push(index);
      for (let i = 0; i < 5; i++) {
        const query = new URLSearchParams({ e: 'se', p: 'srv', tv: 't', se_ca: 'c', se_ac: `a${i}` });
        expect((await fetch(`${collector.url}/i?${query}`)).status).toBe(200);
      }
      expect(indexes).toEqual([0, 1, 2, 3, 4]);
      expect(collector.requests.map((r) => new URL(r.url, 'http://x').searchParams.get('se_ac'))).toEqual([
        'a2',
        'a3',
        'a4',
      ]);
      expect(collector.droppedRequests).toBe(2);
      expect(collector.good()).toHaveLength(5);
      collector.reset();
      expect([collector.requests.length, collector.droppedRequests]).toEqual([0, 0]);
      await fetch(`${collector.url}/i?e=pv&p=srv&tv=t`);
      expect(collector.requests).toHaveLength(1);
      expect((await fetch(`${collector.url}/micro/reset`, { method: 'POST' })).status).toBe(200);
      expect(collector.requests).toHaveLength(0);
    } finally {
      await collector.close();
    }
  });

  it.each([0, 1.5, -1])('refuses maxRequests %p with InvalidOptionError', async (maxRequests) => {
    await expect(startLocalCollector({ maxRequests })).rejects.toThrow(
      `Invalid Snowplow option "maxRequests": must be a positive integer, got ${maxRequests}`,
    );
  });
});
