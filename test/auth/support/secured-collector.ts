import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import { AddressInfo, Socket } from 'node:net';

export interface SecuredRequest {
  status: number;
  /** Why it was refused (401), for failure messages. */
  reason?: string;
  eventCount: number;
}

/** Checks a bearer token; throws when it is not acceptable. */
export type TokenVerifier = (token: string) => Promise<unknown>;

/**
 * A loopback Snowplow collector that accepts a tp2 POST only with `Authorization: Bearer <token>`
 * that `verify` accepts, and answers 401 otherwise. Records the events of accepted requests.
 */
export class SecuredCollector {
  readonly requests: SecuredRequest[] = [];
  readonly events: Array<Record<string, string>> = [];
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  private port = 0;

  private constructor(private readonly verify: TokenVerifier) {
    this.server = createServer((req, res) => void this.handle(req, res));
    this.server.keepAliveTimeout = 60_000;
    this.server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
  }

  static async start(verify: TokenVerifier): Promise<SecuredCollector> {
    const collector = new SecuredCollector(verify);
    await new Promise<void>((resolve, reject) => {
      collector.server.once('error', reject);
      collector.server.listen(0, '127.0.0.1', () => resolve());
    });
    collector.port = (collector.server.address() as AddressInfo).port;
    return collector;
  }

  /** The origin, which is also the audience the emitter asks tokens for by default. */
  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get endpoint(): string {
    return `${this.url}/com.snowplowanalytics.snowplow/tp2`;
  }

  refused(): SecuredRequest[] {
    return this.requests.filter((r) => r.status === 401);
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const header = req.headers.authorization ?? '';
    const match = /^Bearer ([^\s]+)$/.exec(header);
    let reason: string | undefined;
    if (!match) {
      reason = header ? 'not a bearer token' : 'no Authorization header';
    } else {
      try {
        await this.verify(match[1]);
      } catch (err) {
        reason = err instanceof Error ? `${err.name}: ${err.message}` : 'rejected';
      }
    }
    if (reason !== undefined) {
      this.requests.push({ status: 401, reason, eventCount: 0 });
      res.writeHead(401, { 'Content-Type': 'text/plain', 'WWW-Authenticate': 'Bearer error="invalid_token"' });
      res.end('unauthorized');
      return;
    }
    const events = (JSON.parse(Buffer.concat(chunks).toString('utf8')) as { data: Array<Record<string, string>> }).data;
    this.events.push(...events);
    this.requests.push({ status: 200, eventCount: events.length });
    res.writeHead(200, { 'Content-Type': 'text/plain' });
    res.end('ok');
  }
}
