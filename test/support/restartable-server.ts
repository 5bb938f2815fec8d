import { createServer, RequestListener, Server } from 'node:http';
import { AddressInfo, Socket } from 'node:net';

/**
 * An HTTP server on 127.0.0.1 that can be stopped (open sockets reset, port closed) and started
 * again on the same port, for tests of outages.
 */
export class RestartableServer {
  private server?: Server;
  private readonly sockets = new Set<Socket>();
  private boundPort = 0;

  constructor(private readonly handler: RequestListener) {}

  get port(): number {
    return this.boundPort;
  }

  get url(): string {
    return `http://127.0.0.1:${this.boundPort}`;
  }

  /** Listens on a free port the first time, on the same port after `stop()`. */
  start(): Promise<void> {
    const server = createServer(this.handler);
    server.keepAliveTimeout = 60_000;
    server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.boundPort, '127.0.0.1', () => {
        this.boundPort = (server.address() as AddressInfo).port;
        resolve();
      });
    });
  }

  /** Resets open connections (in-flight requests see a reset) and stops listening. */
  async stop(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    const server = this.server;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
