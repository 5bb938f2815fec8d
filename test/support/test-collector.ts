import { IncomingMessage, ServerResponse } from 'node:http';
import { RestartableServer } from './restartable-server';
import { waitFor } from './wait-for';

/** What became of a request at the collector. */
export type RequestFate =
  /** Answered with `status` (possibly with the body cut off, see `cutAfterBytes`). */
  | 'answered'
  /** The whole body was read, then no answer: a real collector may have stored its events. */
  | 'hung'
  /** The whole body was read, then the socket was reset: a real collector may have stored its events. */
  | 'reset'
  /** The socket was reset before the body was complete: nothing of it can have been stored. */
  | 'reset-mid-body';

export interface ReceivedRequest {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  /** The body as received; partial when `complete` is false. */
  body: string;
  /** The whole body arrived (false only for a reset mid-body). */
  complete: boolean;
  receivedAt: number;
  /** Status the collector answered (undefined when it hung up or reset). */
  status?: number;
  fate?: RequestFate;
}

/** What the collector does with one request; chosen per request by `behaviour`. */
export type Reply =
  | {
      status: number;
      headers?: Record<string, string>;
      after?: Promise<unknown>;
      /** The response body (default 'ok' or 'error'). */
      body?: string;
      /** Send the status and this many bytes of `body`, then destroy the socket mid-body. */
      cutAfterBytes?: number;
    }
  /** Read the whole body, then never answer. */
  | { hang: true }
  /** Read the whole body, then reset the connection (see `resetMidBody` for a reset before the body ends). */
  | { reset: true };

type Payload = Record<string, string>;

function payloads(request: ReceivedRequest): Payload[] {
  return (JSON.parse(request.body) as { data: Payload[] }).data;
}

const is2xx = (r: ReceivedRequest) => r.status !== undefined && r.status >= 200 && r.status < 300;

/**
 * A real loopback HTTP collector for tests that can misbehave on command. It records every
 * request, answered, hung or reset, in arrival order. `events()` returns the events of requests
 * it answered with 2xx; `stored()` adds those of requests whose whole body it read before hanging
 * or resetting, which a real collector may have stored too. A "delivered once" check compares the
 * total with the distinct count (see `counts()`), so duplicates show.
 */
export class TestCollector {
  readonly requests: ReceivedRequest[] = [];
  behaviour: (request: ReceivedRequest, index: number) => Reply = () => ({ status: 200 });
  /**
   * Decided when a request starts, before its body is read: true resets the connection as soon as
   * the first part of the body arrived, so the collector never has the whole body. (Should the
   * first part already hold all of it, the request is recorded as a plain `reset`.)
   */
  resetMidBody?: (startedAt: number) => boolean;
  /** Requests whose headers arrived and that have not been answered, hung up or reset yet. */
  inFlight = 0;
  /** The most requests in flight at once so far. */
  maxInFlight = 0;
  private readonly server = new RestartableServer((req, res) => this.handle(req, res));

  static async start(): Promise<TestCollector> {
    const collector = new TestCollector();
    await collector.server.start();
    return collector;
  }

  get url(): string {
    return this.server.url;
  }

  get endpoint(): string {
    return `${this.url}/com.snowplowanalytics.snowplow/tp2`;
  }

  /** The payload_data items of every request answered with 2xx. */
  events(): Payload[] {
    return this.accepted().flatMap(payloads);
  }

  /** Requests answered 2xx. */
  accepted(): ReceivedRequest[] {
    return this.requests.filter(is2xx);
  }

  /**
   * What a real collector may have stored: the events of every request answered 2xx, and of every
   * request whose whole body it read before hanging or resetting the connection.
   */
  stored(): Payload[] {
    return this.requests.filter((r) => is2xx(r) || this.ambiguous(r)).flatMap(payloads);
  }

  /** The eids of requests whose body was read in full but never answered: stored or not, nobody knows. */
  ambiguousEids(): Set<string> {
    return new Set(
      this.requests
        .filter((r) => this.ambiguous(r))
        .flatMap(payloads)
        .map((e) => e.eid),
    );
  }

  /** Total and distinct eids answered 2xx, and the same over `stored()`. */
  counts(): { accepted: { total: number; distinct: number }; stored: { total: number; distinct: number } } {
    const count = (events: Payload[]) => ({ total: events.length, distinct: new Set(events.map((e) => e.eid)).size });
    return { accepted: count(this.events()), stored: count(this.stored()) };
  }

  waitForEvents(count: number, timeoutMs = 20_000): Promise<Payload[]> {
    return waitFor(() => (this.events().length >= count ? this.events() : undefined), {
      timeoutMs,
      what: `${count} events at the collector (have ${this.events().length})`,
    });
  }

  /** Stops listening and destroys open sockets (in-flight requests see a reset). */
  close(): Promise<void> {
    return this.server.stop();
  }

  /** Listens again on the same port after `close()`. */
  reopen(): Promise<void> {
    return this.server.start();
  }

  private ambiguous(request: ReceivedRequest): boolean {
    return request.complete && (request.fate === 'hung' || request.fate === 'reset');
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const startedAt = Date.now();
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    let open = true;
    const finished = () => {
      if (!open) return;
      open = false;
      this.inFlight--;
    };
    // 'close' comes when the answer was sent, or when the connection went away unanswered.
    res.on('close', finished);
    const record = (body: Buffer, complete: boolean): ReceivedRequest => ({
      method: req.method ?? '',
      url: req.url ?? '',
      headers: req.headers,
      body: body.toString('utf8'),
      complete,
      receivedAt: startedAt,
    });
    const chunks: Buffer[] = [];
    const expected = Number(req.headers['content-length'] ?? NaN);
    const resetEarly = this.resetMidBody?.(startedAt) ?? false;
    req.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      if (!resetEarly) return;
      const body = Buffer.concat(chunks);
      const complete = !(body.length < expected);
      const request = record(body, complete);
      request.fate = complete ? 'reset' : 'reset-mid-body';
      this.requests.push(request);
      req.removeAllListeners('data');
      req.removeAllListeners('end');
      req.socket.destroy();
      finished();
    });
    req.on('end', () => {
      if (resetEarly) {
        // An empty body: nothing arrived to reset in the middle of.
        const request = record(Buffer.alloc(0), true);
        request.fate = 'reset';
        this.requests.push(request);
        req.socket.destroy();
        finished();
        return;
      }
      const request = record(Buffer.concat(chunks), true);
      request.receivedAt = Date.now();
      const index = this.requests.push(request) - 1;
      const reply = this.behaviour(request, index);
      if ('hang' in reply) {
        request.fate = 'hung';
        return;
      }
      if ('reset' in reply) {
        request.fate = 'reset';
        req.socket.destroy();
        return;
      }
      const answer = () => {
        request.status = reply.status;
        request.fate = 'answered';
        const body = Buffer.from(reply.body ?? (reply.status < 400 ? 'ok' : 'error'));
        res.writeHead(reply.status, {
          'Content-Type': 'text/plain',
          'Content-Length': String(body.length),
          ...reply.headers,
        });
        if (reply.cutAfterBytes === undefined) {
          res.end(body);
          return;
        }
        res.write(body.subarray(0, reply.cutAfterBytes), () => res.socket?.destroy());
      };
      if (reply.after) void reply.after.then(answer);
      else answer();
    });
  }
}
