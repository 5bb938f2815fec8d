// The collector's side of the event viewer: the page's files, the event stream, the store's
// listeners and cap, and the cross-origin rules that keep other web pages away from /micro/*.
import * as http from 'node:http';
import { InvalidOptionError } from '../../lib/errors';
import { EventStore, type CollectorChange } from '../../lib/testing/event-store';
import { LocalCollector, startLocalCollector } from '../../lib/testing';
import { waitFor } from '../support/wait-for';
import { billingItem, customEventItem, payloadBody, postPayload } from './support/snowplow-payloads';

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** A raw HTTP request, so that Origin, Host and Sec-Fetch-* are sent exactly as a browser would. */
function request(url: string, options: { method?: string; headers?: Record<string, string>; body?: string } = {}) {
  return new Promise<Answer>((resolve, reject) => {
    const req = http.request(url, { method: options.method ?? 'GET', headers: options.headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

interface SseMessage {
  event: string;
  data: any;
}

/** Reads GET /micro/stream; `messages` fills as they arrive. */
function openStream(collector: LocalCollector) {
  const messages: SseMessage[] = [];
  let buffer = '';
  let response: http.IncomingMessage | undefined;
  const req = http.get(`${collector.url}/micro/stream`, (res) => {
    response = res;
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => {
      buffer += chunk;
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const event = /^event: (.*)$/m.exec(block)?.[1];
        const data = /^data: (.*)$/m.exec(block)?.[1];
        if (event && data) messages.push({ event, data: JSON.parse(data) });
      }
    });
  });
  req.on('error', () => undefined);
  return {
    messages,
    headers: () => response?.headers,
    close: () => req.destroy(),
  };
}

describe('the event viewer, served by the local collector', () => {
  let collector: LocalCollector;
  beforeEach(async () => {
    collector = await startLocalCollector({ port: 0 });
  });
  afterEach(() => collector.close());

  it('serves the page and its script and style from the package, allowed to load nothing from elsewhere', async () => {
    expect(collector.viewerUrl).toBe(`${collector.url}/micro/ui`);
    const page = await request(collector.viewerUrl);
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(page.body).toContain('<script src="/micro/ui/viewer.js" defer></script>');
    expect(page.headers['content-security-policy']).toContain("default-src 'none'");
    expect(page.headers['content-security-policy']).toContain("connect-src 'self'");
    const script = await request(`${collector.viewerUrl}/viewer.js`);
    expect([script.status, script.headers['content-type']]).toEqual([200, 'text/javascript; charset=utf-8']);
    expect(script.body).toContain("new EventSource('/micro/stream')");
    const scripts = [script.body];
    for (const file of ['events.js', 'detail.js', 'requests.js', 'faults.js']) {
      expect(page.body).toContain(`<script src="/micro/ui/${file}" defer></script>`);
      const answer = await request(`${collector.viewerUrl}/${file}`);
      expect([answer.status, answer.headers['content-type']]).toEqual([200, 'text/javascript; charset=utf-8']);
      scripts.push(answer.body);
    }
    const styles: string[] = [];
    for (const file of ['viewer.css', 'faults.css']) {
      expect(page.body).toContain(`<link rel="stylesheet" href="/micro/ui/${file}" />`);
      const style = await request(`${collector.viewerUrl}/${file}`);
      expect([style.status, style.headers['content-type']]).toEqual([200, 'text/css; charset=utf-8']);
      styles.push(style.body);
    }
    // Nothing off the machine: no absolute URL, no font file, no @import.
    for (const text of [page.body, ...scripts, ...styles]) {
      expect(text).not.toMatch(/https?:\/\/|@import|@font-face|url\(/);
    }
  });

  it('streams a snapshot, then new events in batches, then a reset, to every open page', async () => {
    await postPayload(collector.endpoint, payloadBody(customEventItem('before', null)));
    const first = openStream(collector);
    const second = openStream(collector);
    try {
      await waitFor(() => first.messages.length >= 1 && second.messages.length >= 1, { what: 'two snapshots' });
      expect(first.headers()?.['content-type']).toBe('text/event-stream; charset=utf-8');
      expect(first.messages[0]).toEqual({
        event: 'snapshot',
        data: {
          records: [{ id: 1, kind: 'good', event: expect.objectContaining({ name: 'before' }) }],
          counts: { total: 1, good: 1, bad: 0, dropped: 0 },
        },
      });
      await postPayload(collector.endpoint, payloadBody(billingItem(), { e: 'pv' }));
      const batches = (stream: typeof first) => stream.messages.filter((m) => m.event === 'events');
      await waitFor(() => batches(first).length > 0 && batches(second).length > 0, { what: 'an events batch' });
      for (const stream of [first, second]) {
        expect(batches(stream)).toEqual([
          {
            event: 'events',
            data: {
              records: [
                { id: 2, kind: 'good', event: expect.objectContaining({ name: 'usage_recorded' }) },
                { id: 3, kind: 'bad', event: expect.objectContaining({ raw: { e: 'pv' } }) },
              ],
              counts: { total: 3, good: 2, bad: 1, dropped: 0 },
            },
          },
        ]);
      }
      expect((await request(`${collector.url}/micro/reset`, { method: 'POST' })).status).toBe(200);
      await waitFor(() => first.messages.some((m) => m.event === 'reset'), { what: 'the reset message' });
      await waitFor(() => first.messages.at(-1)?.event === 'requests', { what: 'the emptied request list' });
      expect(first.messages.slice(-2)).toEqual([
        { event: 'reset', data: { counts: { total: 0, good: 0, bad: 0, dropped: 0 } } },
        { event: 'requests', data: { requests: [], total: 0 } },
      ]);
    } finally {
      first.close();
      second.close();
    }
  });
});

describe('the viewer stream: tracker requests and the fault plan', () => {
  let collector: LocalCollector;
  beforeEach(async () => {
    collector = await startLocalCollector({ port: 0 });
  });
  afterEach(() => collector.close());

  it('sends the requests with their fault, the plan with what each step took, and marks events a faulted request stored', async () => {
    await postPayload(collector.endpoint, payloadBody(customEventItem('plain', null)));
    const stream = openStream(collector);
    try {
      await waitFor(() => stream.messages.length >= 3, { what: 'the three opening messages' });
      expect(stream.messages.map((m) => m.event)).toEqual(['snapshot', 'requests', 'faults']);
      expect(stream.messages[1].data).toEqual({
        requests: [
          {
            id: 0,
            method: 'POST',
            path: '/com.snowplowanalytics.snowplow/tp2',
            receivedAt: expect.any(String),
            complete: true,
            status: 200,
            fate: 'answered',
          },
        ],
        total: 1,
      });
      expect(stream.messages[2].data).toEqual({ plan: null, applied: [] });

      const plan = {
        steps: [
          { status: 503, count: 1 },
          { status: 202, count: 1 },
        ],
      };
      collector.setFaults(plan);
      await waitFor(() => stream.messages.some((m) => m.event === 'faults' && m.data.plan), { what: 'the plan' });
      const refused = await fetch(collector.endpoint, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify(payloadBody(customEventItem('refused', null))),
      });
      expect(refused.status).toBe(503);
      await postPayload(collector.endpoint, payloadBody(customEventItem('accepted_in_fault', null)));
      const settled = () =>
        stream.messages
          .filter((m) => m.event === 'request')
          .flatMap((m) => m.data.requests)
          .filter((r: { fate?: string }) => r.fate);
      await waitFor(() => settled().length >= 2, { what: 'the two faulted requests settled' });
      expect(settled().map((r: Record<string, unknown>) => [r.id, r.status, r.fault])).toEqual([
        [1, 503, { source: 'plan', step: 0, kind: 'status' }],
        [2, 202, { source: 'plan', step: 1, kind: 'status' }],
      ]);
      await waitFor(() => stream.messages.some((m) => m.event === 'faults' && m.data.applied[1] === 1), {
        what: 'the counts of the plan',
      });
      // Only the 202 stored its event; it carries the fault of its request.
      const events = stream.messages.filter((m) => m.event === 'events').flatMap((m) => m.data.records);
      expect(events).toEqual([
        {
          id: 2,
          kind: 'good',
          event: expect.objectContaining({ name: 'accepted_in_fault' }),
          fault: { source: 'plan', step: 1, kind: 'status' },
        },
      ]);
      // A page opened now gets the mark in its snapshot too.
      const later = openStream(collector);
      try {
        await waitFor(() => later.messages.length >= 3, { what: 'the later snapshot' });
        expect(later.messages[0].data.records.map((r: { fault?: unknown }) => r.fault)).toEqual([
          undefined,
          { source: 'plan', step: 1, kind: 'status' },
        ]);
        expect(later.messages[1].data.total).toBe(3);
        expect(later.messages[2].data).toEqual({ plan, applied: [1, 1] });
      } finally {
        later.close();
      }
    } finally {
      stream.close();
    }
  });

  it('forgets a request a reset came during: its late answer is not listed after the reset', async () => {
    collector.setFaults({ steps: [{ delayMs: 300, count: 1 }] });
    const stream = openStream(collector);
    try {
      await waitFor(() => stream.messages.length >= 3, { what: 'the opening messages' });
      const slow = postPayload(collector.endpoint, payloadBody(customEventItem('slow', null)));
      await waitFor(() => collector.requests.length === 1, { what: 'the slow request' });
      collector.reset();
      await slow;
      await postPayload(collector.endpoint, payloadBody(customEventItem('next', null)));
      const sinceReset = () => {
        const last = stream.messages.map((m) => m.event).lastIndexOf('requests');
        return stream.messages.slice(last);
      };
      const listed = () =>
        sinceReset()
          .filter((m) => m.event === 'request')
          .flatMap((m) => m.data.requests);
      await waitFor(() => listed().some((r: { fate?: string }) => r.fate === 'answered'), { what: 'the next request' });
      expect(sinceReset()[0].data).toEqual({ requests: [], total: 0 });
      expect(new Set(listed().map((r: { id: number }) => r.id))).toEqual(new Set([0]));
      expect(listed().every((r: { fault?: unknown }) => r.fault === undefined)).toBe(true);
    } finally {
      stream.close();
    }
  });
});

describe('the collector keeps at most maxEvents events', () => {
  it('drops the oldest, counts them in all() and GET /micro/all, and a reset clears the count', async () => {
    const collector = await startLocalCollector({ port: 0, maxEvents: 3 });
    try {
      const items = ['e1', 'e2', 'e3', 'e4', 'e5'].map((name) => customEventItem(name, null));
      await postPayload(collector.endpoint, payloadBody(...items.slice(0, 2)));
      await postPayload(collector.endpoint, payloadBody(...items.slice(2), { e: 'pv' }));
      expect(collector.all()).toEqual({ total: 3, good: 2, bad: 1, dropped: 3 });
      expect(collector.good().map((event) => event.name)).toEqual(['e4', 'e5']);
      expect(JSON.parse((await request(`${collector.url}/micro/all`)).body)).toEqual(collector.all());
      const stream = openStream(collector);
      try {
        await waitFor(() => stream.messages[0], { what: 'the snapshot' });
        expect(stream.messages[0].data.records.map((r: { id: number }) => r.id)).toEqual([4, 5, 6]);
      } finally {
        stream.close();
      }
      collector.reset();
      expect(collector.all()).toEqual({ total: 0, good: 0, bad: 0, dropped: 0 });
    } finally {
      await collector.close();
    }
  });

  it.each([0, -1, 1.5, Number.NaN])('refuses maxEvents %p with an InvalidOptionError', async (maxEvents) => {
    await expect(startLocalCollector({ port: 0, maxEvents })).rejects.toThrow(InvalidOptionError);
    await expect(startLocalCollector({ port: 0, maxEvents })).rejects.toMatchObject({ option: 'maxEvents' });
  });
});

describe('EventStore listeners', () => {
  it('tells every listener of each event and of a reset; a throwing one neither stops the others nor the store', () => {
    const store = new EventStore();
    const heard: CollectorChange[] = [];
    const other: string[] = [];
    store.subscribe(() => {
      throw new Error('listener bug');
    });
    const unsubscribe = store.subscribe((change) => heard.push(change));
    store.subscribe((change) => other.push(change.type));
    const event = { eventType: 'pv', name: 'page_view', contexts: [], raw: { e: 'pv' }, receivedAt: 'now' };
    store.add({ good: [event], bad: [] });
    store.reset();
    unsubscribe();
    store.add({ good: [event], bad: [] });
    expect(heard).toEqual([{ type: 'event', id: 1, record: { kind: 'good', event } }, { type: 'reset' }]);
    expect(other).toEqual(['event', 'reset', 'event']);
    expect(store.counts()).toEqual({ total: 1, good: 1, bad: 0, dropped: 0 });
  });
});

describe('cross-origin rules', () => {
  let collector: LocalCollector;
  beforeEach(async () => {
    collector = await startLocalCollector({ port: 0 });
    await postPayload(collector.endpoint, payloadBody(customEventItem('kept', null)));
  });
  afterEach(() => collector.close());

  const foreign = { Origin: 'http://evil.example' };

  it('lets any origin POST events without credentials', async () => {
    const answer = await request(collector.endpoint, {
      method: 'POST',
      headers: { ...foreign, 'Content-Type': 'application/json' },
      body: JSON.stringify(payloadBody(customEventItem('from_a_browser_app', null))),
    });
    expect(answer.status).toBe(200);
    expect(answer.headers['access-control-allow-origin']).toBe('*');
    expect(answer.headers['access-control-allow-credentials']).toBeUndefined();
    expect(collector.all().good).toBe(2);
  });

  it.each([
    ['POST', '/micro/reset'],
    ['GET', '/micro/reset'],
    ['GET', '/micro/all'],
    ['GET', '/micro/good'],
    ['GET', '/micro/stream'],
    ['OPTIONS', '/micro/reset'],
  ])('refuses %s %s from a foreign origin with 403 and no CORS headers', async (method, path) => {
    const answer = await request(`${collector.url}${path}`, { method, headers: foreign });
    expect(answer.status).toBe(403);
    expect(JSON.parse(answer.body).error).toContain('cross-origin request from http://evil.example refused');
    expect(answer.headers['access-control-allow-origin']).toBeUndefined();
    expect(answer.headers['access-control-allow-credentials']).toBeUndefined();
    expect(collector.all().total).toBe(1);
  });

  it('refuses what a browser marks as cross-site or same-site, even without an Origin (an <img> to reset)', async () => {
    for (const site of ['cross-site', 'same-site']) {
      const answer = await request(`${collector.url}/micro/reset`, { headers: { 'Sec-Fetch-Site': site } });
      expect(answer.status).toBe(403);
    }
    expect(collector.all().total).toBe(1);
  });

  it('refuses a Host that is not a loopback name on a loopback collector (DNS rebinding)', async () => {
    const answer = await request(`${collector.url}/micro/good`, {
      headers: { Host: `evil.example:${collector.port}`, Origin: `http://evil.example:${collector.port}` },
    });
    expect(answer.status).toBe(403);
    expect(answer.body).toContain('is not a loopback name');
  });

  it("answers the page's own origin, a typed URL and tools that send no origin", async () => {
    const own = { Origin: collector.url, 'Sec-Fetch-Site': 'same-origin' };
    expect((await request(`${collector.url}/micro/all`, { headers: own })).status).toBe(200);
    expect((await request(`${collector.url}/micro/all`, { headers: { 'Sec-Fetch-Site': 'none' } })).status).toBe(200);
    const localhost = `http://localhost:${collector.port}`;
    const named = { Host: `localhost:${collector.port}`, Origin: localhost };
    expect((await request(`${collector.url}/micro/good`, { headers: named })).status).toBe(200);
    expect((await request(`${collector.url}/micro/reset`, { method: 'POST', headers: own })).status).toBe(200);
    expect(collector.all().total).toBe(0);
    // The viewer's fault control: a JSON POST from the page itself sets the plan, another site's does not.
    const plan = JSON.stringify({ steps: [{ status: 503, count: 1 }] });
    const json = { 'Content-Type': 'application/json' };
    const foreign = { ...json, Origin: 'http://127.0.0.1:1', 'Sec-Fetch-Site': 'same-site' };
    const refused = await request(`${collector.url}/micro/faults`, { method: 'POST', headers: foreign, body: plan });
    expect([refused.status, collector.faults().plan]).toEqual([403, null]);
    const set = await request(`${collector.url}/micro/faults`, {
      method: 'POST',
      headers: { ...own, ...json },
      body: plan,
    });
    expect(set.status).toBe(200);
    expect(collector.faults().plan).toEqual({ steps: [{ status: 503, count: 1 }] });
    const cleared = await request(`${collector.url}/micro/faults`, { method: 'DELETE', headers: own });
    expect([cleared.status, collector.faults().plan]).toEqual([200, null]);
  });

  it('serves the page itself to a link opened from another site', async () => {
    const answer = await request(`${collector.viewerUrl}?app=shop`, {
      headers: { 'Sec-Fetch-Site': 'cross-site', 'Sec-Fetch-Mode': 'navigate' },
    });
    expect(answer.status).toBe(200);
  });
});
