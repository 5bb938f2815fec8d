/**
 * CPU time per collector request of the emitter's HTTP client (axios, through the library's
 * CollectorClient) against plain node:http with the same keep-alive agent, headers and body:
 * a 100-event payload_data body (~49 KB) posted to the bench collector one request at a time.
 *
 *   npm run build && node -r ./bench/register.js bench/tools/http-client-cost.ts [--requests 400] [--rounds 3]
 */
import { fork } from 'node:child_process';
import { Agent, request } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { join } from 'node:path';
import axios from 'axios';
import { BUILD_DIR, buildChildren } from '../build';

interface PostOutcome {
  statusCode: number;
}

interface CollectorClientLike {
  post(body: string, signal: AbortSignal): Promise<PostOutcome>;
}

type CollectorClientConstructor = new (options: {
  url: URL;
  http: ReturnType<typeof axios.create>;
  agents: { httpAgent: Agent; httpsAgent: HttpsAgent };
  timeoutMs: number;
  audience: string;
}) => CollectorClientLike;

// Not part of the package's public entry points: loaded from the build by path.
const { CollectorClient } = require('../../dist/emitter/collector-client') as {
  CollectorClient: CollectorClientConstructor;
};

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  return i === -1 ? fallback : Number(process.argv[i + 1]);
}

async function main(): Promise<void> {
  const requests = arg('--requests', 400);
  const rounds = arg('--rounds', 3);
  buildChildren();
  const proc = fork(join(BUILD_DIR, 'collector.js'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const port = await new Promise<number>((resolve) => proc.once('message', (m: { port: number }) => resolve(m.port)));
  try {
    const url = new URL(`http://127.0.0.1:${port}/com.snowplowanalytics.snowplow/tp2`);
    const httpAgent = new Agent({ keepAlive: true, maxSockets: 4 });
    const httpsAgent = new HttpsAgent({ keepAlive: true, maxSockets: 4 });
    const event = `{"e":"ue","eid":"00000000-0000-4000-8000-000000000000","dtm":"1795845582539","p":"srv","tna":"gitlab","aid":"bench","tv":"nestjs-snowplow-0.1.0","ua":"nestjs-snowplow/0.1.0","ue_px":"${'A'.repeat(284)}"}`;
    const body = `{"schema":"iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4","data":[${new Array(100).fill(event).join(',')}]}`;
    const signal = new AbortController().signal;
    const viaAxios = new CollectorClient({
      url,
      http: axios.create(),
      agents: { httpAgent, httpsAgent },
      timeoutMs: 5_000,
      audience: url.origin,
    });
    const viaAxiosNoProxy = new CollectorClient({
      url,
      http: axios.create({ proxy: false }),
      agents: { httpAgent, httpsAgent },
      timeoutMs: 5_000,
      audience: url.origin,
    });
    const plain = () =>
      new Promise<number>((resolve, reject) => {
        const req = request(
          url,
          {
            method: 'POST',
            agent: httpAgent,
            headers: { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(body) },
          },
          (res) => {
            res.resume();
            res.on('end', () => resolve(res.statusCode ?? 0));
          },
        );
        req.on('error', reject);
        req.end(body);
      });
    const clients: Array<[string, () => Promise<unknown>]> = [
      ['CollectorClient (axios), as today', () => viaAxios.post(body, signal)],
      ['CollectorClient (axios, proxy: false)', () => viaAxiosNoProxy.post(body, signal)],
      ['node:http request, same agent', plain],
    ];
    console.log(
      `${requests} sequential POSTs of ${Buffer.byteLength(body).toLocaleString('en-US')} bytes (100 events) per client and round`,
    );
    for (let round = 1; round <= rounds; round++) {
      for (const [name, post] of clients) {
        for (let i = 0; i < 50; i++) await post();
        const cpu0 = process.cpuUsage();
        const wall0 = performance.now();
        for (let i = 0; i < requests; i++) await post();
        const cpu = process.cpuUsage(cpu0);
        const wallUs = ((performance.now() - wall0) * 1000) / requests;
        console.log(
          `round ${round}  ${name.padEnd(38)} CPU ${((cpu.user + cpu.system) / requests).toFixed(0).padStart(5)} µs/request   wall ${wallUs.toFixed(0).padStart(5)} µs/request`,
        );
      }
    }
    httpAgent.destroy();
  } finally {
    proc.kill('SIGTERM');
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.stack : err);
  process.exit(1);
});
