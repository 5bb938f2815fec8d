// A loopback TCP proxy between a client and a server (here: the store and PostgreSQL), which a test
// pauses (bytes stop flowing both ways; new connections wait) and cuts (every connection reset, new
// ones refused), to make a database outage without touching the shared server.
import { createServer, Server, Socket, connect } from 'node:net';

export interface TcpProxy {
  readonly port: number;
  /** Connections opened through the proxy so far. */
  readonly connections: number;
  /** Stops forwarding: bytes are held, new connections are accepted but not forwarded. */
  pause(): void;
  /** Resets every connection, and resets new ones at once, until `resume()`. */
  cut(): void;
  /** Forwards again (held bytes flow on; after a cut, new connections work). */
  resume(): void;
  close(): Promise<void>;
}

export async function startTcpProxy(targetPort: number, targetHost = '127.0.0.1'): Promise<TcpProxy> {
  const pairs = new Set<[Socket, Socket | undefined]>();
  let mode: 'open' | 'paused' | 'cut' = 'open';
  let opened = 0;
  const waiting: Array<() => void> = [];

  const link = (pair: [Socket, Socket | undefined]) => {
    const client = pair[0];
    const upstream = connect(targetPort, targetHost);
    pair[1] = upstream;
    client.pipe(upstream);
    upstream.pipe(client);
    upstream.on('error', () => client.destroy());
    upstream.on('close', () => client.destroy());
  };

  const server: Server = createServer((client) => {
    opened++;
    client.on('error', () => undefined);
    if (mode === 'cut') {
      client.resetAndDestroy();
      return;
    }
    const pair: [Socket, Socket | undefined] = [client, undefined];
    pairs.add(pair);
    client.on('close', () => {
      pair[1]?.destroy();
      pairs.delete(pair);
    });
    if (mode === 'paused') {
      client.pause();
      waiting.push(() => {
        client.resume();
        link(pair);
      });
    } else link(pair);
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const port = (server.address() as { port: number }).port;

  return {
    port,
    get connections() {
      return opened;
    },
    pause() {
      mode = 'paused';
      for (const [client, upstream] of pairs) {
        client.pause();
        upstream?.pause();
      }
    },
    cut() {
      mode = 'cut';
      for (const [client, upstream] of pairs) {
        client.resetAndDestroy();
        upstream?.destroy();
      }
      pairs.clear();
      waiting.splice(0);
    },
    resume() {
      mode = 'open';
      for (const [client, upstream] of pairs) {
        client.resume();
        upstream?.resume();
      }
      for (const start of waiting.splice(0)) start();
    },
    close() {
      for (const [client, upstream] of pairs) {
        client.destroy();
        upstream?.destroy();
      }
      return new Promise<void>((done) => server.close(() => done()));
    },
  };
}
