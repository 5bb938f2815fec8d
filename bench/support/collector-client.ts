import { request } from 'node:http';

/** The bench collector's counters (GET /stats). Times are wall-clock ms (timeOrigin + now()). */
export interface CollectorStats {
  /** tp2 requests answered. */
  requests: number;
  /** Events in those requests, duplicates included. */
  events: number;
  /** Distinct `eid`s. */
  unique: number;
  /** Events received more than once (events - unique). */
  duplicates: number;
  /** Request body bytes (no headers). */
  bodyBytes: number;
  /** When the first / last tp2 request since the last reset ended; 0 if none. */
  firstAt: number;
  lastAt: number;
  /** TCP connections that carried tp2 requests (since the last reset). */
  connections: number;
  /** CPU time (user + system) the collector process has used since it started, µs. */
  cpuUs: number;
}

function call(port: number, method: 'GET' | 'POST', path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => {
        if (res.statusCode === 200) resolve(body);
        else reject(new Error(`collector ${method} ${path}: HTTP ${res.statusCode}`));
      });
    });
    req.on('error', reject);
    req.end();
  });
}

/** Talks to the bench collector's control endpoints. */
export class CollectorClient {
  constructor(readonly port: number) {}

  /** The tp2 endpoint, for our Emitter. */
  get endpoint(): string {
    return `http://127.0.0.1:${this.port}/com.snowplowanalytics.snowplow/tp2`;
  }

  /** Scheme, host and port, for node-tracker (which appends its post path). */
  get origin(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async stats(): Promise<CollectorStats> {
    return JSON.parse(await call(this.port, 'GET', '/stats')) as CollectorStats;
  }

  /** Zeroes the counters; with `times`, the collector also keeps when each eid first arrived (see `arrival`). */
  async reset({ times = false } = {}): Promise<void> {
    await call(this.port, 'POST', times ? '/reset?times=1' : '/reset');
  }

  /**
   * Waits (a long poll) until `eid` has arrived, and resolves with when the collector answered its
   * request: wall-clock ms (timeOrigin + now()), comparable with the same clock in another process.
   * Needs `reset({ times: true })` first; rejects when it does not arrive within `timeoutMs`.
   */
  async arrival(eid: string, timeoutMs = 10_000): Promise<number> {
    const body = await call(this.port, 'GET', `/wait?eid=${encodeURIComponent(eid)}&timeoutMs=${timeoutMs}`);
    return (JSON.parse(body) as { at: number }).at;
  }

  /**
   * Polls until `unique` reaches `expected`, or nothing new arrived for `quietMs`, or `timeoutMs`
   * passes. Returns the last stats; the caller compares `unique` with what it expected.
   */
  async waitFor(expected: number, { quietMs = 1500, timeoutMs = 120_000, pollMs = 10 } = {}): Promise<CollectorStats> {
    const deadline = Date.now() + timeoutMs;
    let last = await this.stats();
    let lastChange = Date.now();
    while (last.unique < expected && Date.now() < deadline && Date.now() - lastChange < quietMs) {
      await new Promise((resolve) => setTimeout(resolve, pollMs));
      const next = await this.stats();
      if (next.events !== last.events) lastChange = Date.now();
      last = next;
    }
    return last;
  }
}
