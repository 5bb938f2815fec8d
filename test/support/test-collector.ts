import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import { AddressInfo, Socket } from 'node:net';
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
  | { status: number; headers?: Record<string, string>; after?: Promise<unknown> }
  | { hang: true }
  | { reset: true };

/**
 * A real loopback HTTP collector for tests that can misbehave on command. It records every
 * request; `events()` returns the events of requests it answered with 2xx, in arrival order.
 */
export class TestCollector {
  readonly requests: ReceivedRequest[] = [];
  behaviour: (request: ReceivedRequest, index: number) => Reply = () => ({ status: 200 });
  private server!: Server;
  private readonly sockets = new Set<Socket>();
  private port = 0;

  static async start(): Promise<TestCollector> {
    const collector = new TestCollector();
    await collector.listen();
    return collector;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
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
  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** Listens again on the same port after `close()`. */
  async reopen(): Promise<void> {
    await this.listen(this.port);
  }

  private listen(port = 0): Promise<void> {
    this.server = createServer((req, res) => this.handle(req, res));
    this.server.keepAliveTimeout = 60_000;
    this.server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, '127.0.0.1', () => {
        this.port = (this.server.address() as AddressInfo).port;
        resolve();
      });
    });
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
        res.writeHead(reply.status, { 'Content-Type': 'text/plain', ...reply.headers });
        res.end(reply.status < 400 ? 'ok' : 'error');
      };
      if (reply.after) void reply.after.then(answer);
      else answer();
    });
  }
}
