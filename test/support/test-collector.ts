import { IncomingMessage, ServerResponse } from 'node:http';
import { RestartableServer } from './restartable-server';
import { waitFor } from './wait-for';

export interface ReceivedRequest {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
  receivedAt: number;
  /** Status the collector answered (undefined when it hung up or reset). */
  status?: number;
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
  | { hang: true }
  | { reset: true };

/**
 * A real loopback HTTP collector for tests that can misbehave on command. It records every
 * request; `events()` returns the events of requests it answered with 2xx, in arrival order.
 */
export class TestCollector {
  readonly requests: ReceivedRequest[] = [];
  behaviour: (request: ReceivedRequest, index: number) => Reply = () => ({ status: 200 });
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
  events(): Array<Record<string, string>> {
    return this.requests
      .filter((r) => r.status !== undefined && r.status >= 200 && r.status < 300)
      .flatMap((r) => (JSON.parse(r.body) as { data: Array<Record<string, string>> }).data);
  }

  /** Requests answered 2xx. */
  accepted(): ReceivedRequest[] {
    return this.requests.filter((r) => r.status !== undefined && r.status >= 200 && r.status < 300);
  }

  waitForEvents(count: number, timeoutMs = 20_000): Promise<Array<Record<string, string>>> {
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

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const request: ReceivedRequest = {
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
        receivedAt: Date.now(),
      };
      const index = this.requests.push(request) - 1;
      const reply = this.behaviour(request, index);
      if ('hang' in reply) return;
      if ('reset' in reply) {
        req.socket.destroy();
        return;
      }
      const answer = () => {
        request.status = reply.status;
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
