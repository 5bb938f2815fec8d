// The collector client on its own, against a real loopback collector: what it sends, and how every
// answer and local failure becomes an outcome.
import { createServer, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import axios, { AxiosInstance } from 'axios';
import { TokenSource, TokenSourceError } from '../../lib/core';
import { CollectorClient, CollectorClientOptions } from '../../lib/emitter/collector-client';
import { LocalCollector, startLocalCollector } from '../../lib/testing/local-collector';
import { waitFor } from '../support/wait-for';

describe('CollectorClient', () => {
  let collector: LocalCollector;
  const clients: CollectorClient[] = [];
  const client = (options: Partial<CollectorClientOptions> = {}, href = collector.endpoint) => {
    const made = new CollectorClient({
      url: new URL(href),
      http: axios.create(),
      maxSockets: 2,
      timeoutMs: 5_000,
      audience: 'aud-1',
      ...options,
    });
    clients.push(made);
    return made;
  };
  const signal = () => new AbortController().signal;
  beforeEach(async () => {
    collector = await startLocalCollector();
    // The client posts bodies that are not tracker payloads: answer 200 whatever they hold.
    collector.behaviour = () => ({ status: 200 });
  });
  afterEach(async () => {
    clients.splice(0).forEach((c) => c.close());
    await collector.close();
  });

  it('POSTs the body as it is to the URL, with the JSON content type and no Authorization without a token source', async () => {
    const outcome = await client().post(Buffer.from('{"a":1}'), signal());
    expect(outcome).toMatchObject({ statusCode: 200, retryAfterMs: undefined });
    expect(outcome.error).toBeUndefined();
    expect(outcome.location).toBeUndefined();
    expect(outcome.durationSeconds).toBeGreaterThan(0);
    expect(outcome.durationSeconds).toBeLessThan(5);
    const [request] = collector.requests;
    expect(request).toMatchObject({ method: 'POST', url: '/com.snowplowanalytics.snowplow/tp2', body: '{"a":1}' });
    expect(request.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(request.headers.authorization).toBeUndefined();
  });

  it('asks the token source with the audience and sends the header it sets', async () => {
    const audiences: string[] = [];
    const tokenSource: TokenSource = {
      async enhanceHeader(headers, audience) {
        audiences.push(audience);
        headers.Authorization = 'Bearer t0k3n';
      },
    };
    await client({ tokenSource }).post('{}', signal());
    expect(audiences).toEqual(['aud-1']);
    expect(collector.requests[0].headers.authorization).toBe('Bearer t0k3n');
    expect(collector.requests[0].headers['content-type']).toBe('application/json; charset=utf-8');
  });

  it.each([
    [
      'a TokenSourceError: its message',
      new TokenSourceError('TOKEN_REQUEST_FAILED', 'provider said 500'),
      'provider said 500',
    ],
    ['another Error: its name only', new RangeError('secret detail'), 'RangeError'],
    ['a thrown string: "error"', 'secret string', 'error'],
  ])('a token source that fails with %s', async (_case, thrown, reason) => {
    const tokenSource: TokenSource = { enhanceHeader: () => Promise.reject(thrown) };
    const outcome = await client({ tokenSource }).post('{}', signal());
    expect(outcome.statusCode).toBe(-1);
    expect(outcome.error?.message).toBe(`token source failed (${reason})`);
    expect(outcome.error?.code).toBe('ETOKEN');
    expect(collector.requests).toHaveLength(0);
  });

  it('an abort while the token source hangs ends the request at once, as ABORTED', async () => {
    const tokenSource: TokenSource = { enhanceHeader: () => new Promise(() => undefined) };
    const abort = new AbortController();
    const pending = client({ tokenSource }).post('{}', abort.signal);
    abort.abort();
    const outcome = await pending;
    expect(outcome.statusCode).toBe(-1);
    expect(outcome.error).toMatchObject({ message: 'request aborted', code: 'ABORTED' });
  });

  it('an already aborted signal ends the request at once, even with a token source that hangs', async () => {
    const tokenSource: TokenSource = { enhanceHeader: () => new Promise(() => undefined) };
    const abort = new AbortController();
    abort.abort();
    const outcome = await client({ tokenSource }).post('{}', abort.signal);
    expect(outcome.error).toMatchObject({ message: 'request aborted', code: 'ABORTED' });
    expect(collector.requests).toHaveLength(0);
  });

  it('a token source that resolves after an abort listener was set still sends (the listener is removed)', async () => {
    const abort = new AbortController();
    const tokenSource: TokenSource = {
      async enhanceHeader(headers) {
        headers.Authorization = 'Bearer late';
      },
    };
    const outcome = await client({ tokenSource }).post('{}', abort.signal);
    abort.abort();
    expect(outcome.statusCode).toBe(200);
    expect(collector.requests[0].headers.authorization).toBe('Bearer late');
  });

  it('an abort during the request: ABORTED, "request aborted"', async () => {
    collector.behaviour = () => ({ hang: true });
    const abort = new AbortController();
    const pending = client().post('{}', abort.signal);
    await waitFor(() => collector.requests.length === 1, { timeoutMs: 10_000 });
    abort.abort();
    const outcome = await pending;
    expect(outcome.statusCode).toBe(-1);
    expect(outcome.error).toMatchObject({ message: 'request aborted', code: 'ABORTED' });
  });

  it('a collector that never answers: a timeout after timeoutMs (ECONNABORTED)', async () => {
    collector.behaviour = () => ({ hang: true });
    const outcome = await client({ timeoutMs: 100 }).post('{}', signal());
    expect(outcome.statusCode).toBe(-1);
    expect(outcome.error?.code).toBe('ECONNABORTED');
    expect(outcome.error?.message).toMatch(/timeout of 100ms exceeded/);
    expect(outcome.durationSeconds).toBeGreaterThanOrEqual(0.09);
  });

  it('a reset connection: the transport code, and a message', async () => {
    collector.behaviour = () => ({ reset: true });
    const outcome = await client().post('{}', signal());
    expect(outcome.statusCode).toBe(-1);
    expect(outcome.error?.code).toBe('ECONNRESET');
    expect(outcome.error?.message).not.toBe('');
  });

  it.each([429, 503])('Retry-After on %i is read (seconds to ms)', async (status) => {
    collector.behaviour = () => ({ status, headers: { 'Retry-After': '7' } });
    const outcome = await client().post('{}', signal());
    expect(outcome).toMatchObject({ statusCode: status, retryAfterMs: 7_000 });
  });

  it('Retry-After on a 500 is ignored', async () => {
    collector.behaviour = () => ({ status: 500, headers: { 'Retry-After': '7' } });
    expect((await client().post('{}', signal())).retryAfterMs).toBeUndefined();
  });

  it.each([
    [300, true],
    [307, true],
    [399, true],
    [200, false],
    [400, false],
  ])('a Location on a %i is reported: %p', async (status, reported) => {
    collector.behaviour = () => ({ status, headers: { Location: 'http://elsewhere/tp2' } });
    const outcome = await client().post('{}', signal());
    expect(outcome.statusCode).toBe(status);
    expect(outcome.location).toBe(reported ? 'http://elsewhere/tp2' : undefined);
  });

  it('a redirect Location never shows the password of the URL, raw or decoded', async () => {
    collector.behaviour = () => ({ status: 302, headers: { Location: 'http://u:p%40ss@other/tp2?x=p@ss' } });
    const url = new URL(collector.endpoint);
    url.username = 'u';
    url.password = 'p%40ss';
    const outcome = await client({}, url.href).post('{}', signal());
    expect(outcome.location).toBe('http://***:***@other/tp2?x=***');
  });

  it.each([
    ['a user name alone', 'http://APIKEY-0a1b2c@other/tp2', 'http://***@other/tp2'],
    ['every query value', 'https://other/tp2?api_key=k-9f8e7d&v=2&bare', 'https://other/tp2?api_key=***&v=***&***'],
    ['a fragment', 'https://other/tp2#access_token=t-5e6f7a', 'https://other/tp2#access_token=***'],
    ['a relative reference', '/tp2?api_key=k-9f8e7d#x=t-5e6f7a', '/tp2?api_key=***#x=***'],
    ['a protocol-relative one', '//APIKEY-0a1b2c@other/tp2?k=v-1', '//***@other/tp2?k=***'],
  ])('a redirect Location shows no credential: %s', async (_what, location, shown) => {
    collector.behaviour = () => ({ status: 307, headers: { Location: location } });
    const outcome = await client().post('{}', signal());
    expect(outcome.location).toBe(shown);
  });

  it("a user name alone in the collector URL is masked in a client's error, in a URL and loose", async () => {
    const http = {
      request: () =>
        Promise.reject(new Error('cannot reach http://APIKEY-0a1b2c@host/tp2?api_key=k-9f8e7d as APIKEY-0a1b2c')),
    } as unknown as AxiosInstance;
    const outcome = await client({ http }, 'http://APIKEY-0a1b2c@127.0.0.1:9/tp2').post('{}', signal());
    expect(outcome.error?.message).toBe('cannot reach http://***@host/tp2?api_key=*** as ***');
  });

  it('a 3xx without a Location reports none', async () => {
    collector.behaviour = () => ({ status: 304 });
    const url = new URL(collector.endpoint);
    url.username = 'u';
    url.password = 'secret';
    const outcome = await client({}, url.href).post('{}', signal());
    expect(outcome.statusCode).toBe(304);
    expect(outcome.location).toBeUndefined();
    expect(outcome.error).toBeUndefined();
  });

  it("an HTTP client's own error: its message with the password masked, code REQUEST_FAILED", async () => {
    const http = {
      request: () => Promise.reject(new Error('cannot reach http://u:hunter2@host')),
    } as unknown as AxiosInstance;
    const outcome = await client({ http }, 'http://u:hunter2@127.0.0.1:9/tp2').post('{}', signal());
    expect(outcome.statusCode).toBe(-1);
    expect(outcome.error).toMatchObject({ message: 'cannot reach http://***:***@host/', code: 'REQUEST_FAILED' });
    const thrown = { request: () => Promise.reject('plain string') } as unknown as AxiosInstance;
    expect((await client({ http: thrown }).post('{}', signal())).error?.message).toBe('plain string');
  });

  it('a password with a stray % is masked as written', async () => {
    const http = { request: () => Promise.reject(new Error('at p%zz now')) } as unknown as AxiosInstance;
    const url = new URL('http://127.0.0.1:9/tp2');
    url.username = 'u';
    url.password = 'p%zz';
    const outcome = await client({ http }, url.href).post('{}', signal());
    expect(outcome.error?.message).toBe('at *** now');
  });

  describe('sockets', () => {
    let server: Server;
    let connections = 0;
    let open = 0;
    beforeEach(async () => {
      connections = 0;
      open = 0;
      server = createServer((req, res) => {
        req.resume();
        req.on('end', () => res.end('a body the client must read to reuse the socket'));
      });
      server.on('connection', (socket) => {
        connections++;
        open++;
        socket.on('close', () => open--);
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    });
    afterEach(async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    });

    it('keeps its sockets alive between requests, and close() ends them', async () => {
      const { port } = server.address() as AddressInfo;
      const c = client({}, `http://127.0.0.1:${port}/tp2`);
      expect((await c.post('{}', signal())).statusCode).toBe(200);
      expect((await c.post('{}', signal())).statusCode).toBe(200);
      expect((await c.post('{}', signal())).statusCode).toBe(200);
      expect(connections).toBeLessThanOrEqual(2);
      expect(open).toBe(connections);
      c.close();
      await waitFor(() => open === 0, { timeoutMs: 2_000, what: 'the kept-alive socket to close' });
    });
  });
});
