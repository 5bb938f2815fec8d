/**
 * Row 7: what delivering a batch costs the sending process, per event: the library's
 * `CollectorClient` (axios, as the emitter sends) against plain `node:http` `request()` with a
 * keep-alive agent, posting the same Buffer bodies to the bench collector. The bodies are built
 * the way the emitter builds them: `serialiseBatch` over events from a real `Tracker`.
 *
 * Requests go one at a time. The clients take turns in blocks (order rotated per block), each
 * block timed with `process.cpuUsage()`, so that they share the machine's ups and downs.
 */
import { Agent, request } from 'node:http';
import axios from 'axios';
import { Tracker } from 'nestjs-snowplow/core';
import type { QueuedEvent, TrackedPayload } from 'nestjs-snowplow/core';
import { serialiseBatch } from 'nestjs-snowplow/internal/emitter/batch-body';
import { CollectorClient, CONTENT_TYPE } from 'nestjs-snowplow/internal/emitter/collector-client';
import { bodyBytes } from 'nestjs-snowplow/internal/tracker/payload';
import { main, params, report } from '../support/child';
import { APP_ID, EVENT_NAME, EVENT_PROPS, NAMESPACE } from '../support/subjects';

export type ClientName = 'axios' | 'http' | 'http-signal';

interface Params {
  collectorPort: number;
  batchSizes: number[];
  /** Events per client per block (requests = eventsPerBlock / batch size). */
  eventsPerBlock: number;
  blocks: number;
  /** Warm-up requests per client and batch size. */
  warmupRequests: number;
  /** Different bodies per batch size, posted in turn. */
  bodies: number;
}

export interface ClientCost {
  /** CPU time of this process (user + system) over the client's blocks, µs. */
  cpuUs: number;
  wallMs: number;
  requests: number;
  events: number;
}

export interface BatchCost {
  batchSize: number;
  bodyBytes: number;
  /** serialiseBatch, wall time per event (synchronous CPU work), µs. */
  serialiseUsPerEvent: number;
  clients: Record<ClientName, ClientCost>;
}

const TIMEOUT_MS = 5_000;
const MAX_SOCKETS = 4;

/** Events from a real Tracker, as the emitter would queue them. */
function trackedEvents(count: number): QueuedEvent[] {
  const events: QueuedEvent[] = [];
  const enqueue = (payload: TrackedPayload): void => {
    // A custom event is queued as the object the tracker built (it writes its text when sent).
    const queued = payload as Partial<QueuedEvent> & TrackedPayload;
    events.push(
      typeof queued.bytes === 'number' && typeof queued.attempts === 'number'
        ? (queued as QueuedEvent)
        : { ...payload, bytes: payload.bytes ?? bodyBytes(payload.json), attempts: 0 },
    );
  };
  const tracker = new Tracker({ appId: APP_ID, namespace: NAMESPACE, emitter: { enqueue } });
  const props = EVENT_PROPS as Record<string, unknown>;
  for (let i = 0; i < count; i++) tracker.trackEvent(EVENT_NAME, props);
  return events;
}

function serialiseCost(batch: readonly QueuedEvent[], minEvents: number): number {
  const rounds = Math.max(3, Math.ceil(minEvents / batch.length));
  let keep = 0;
  const started = process.hrtime.bigint();
  for (let i = 0; i < rounds; i++) keep += serialiseBatch(batch, Date.now()).length;
  const ns = Number(process.hrtime.bigint() - started);
  if (keep === 0) throw new Error('empty bodies');
  return ns / 1000 / (rounds * batch.length);
}

main(async () => {
  const p = params<Params>();
  const url = new URL(`http://127.0.0.1:${p.collectorPort}/com.snowplowanalytics.snowplow/tp2`);
  const never = new AbortController().signal;
  const client = new CollectorClient({
    url,
    http: axios.create(),
    maxSockets: MAX_SOCKETS,
    timeoutMs: TIMEOUT_MS,
    audience: url.origin,
  });
  const agent = new Agent({ keepAlive: true, maxSockets: MAX_SOCKETS });
  /** Plain node:http; `withSignal` adds what the emitter needs besides (abort on stop, a timeout). */
  const viaHttp = (body: Buffer, withSignal: boolean) =>
    new Promise<number>((resolve, reject) => {
      const req = request(
        url,
        {
          method: 'POST',
          agent,
          headers: { 'Content-Type': CONTENT_TYPE, 'Content-Length': body.length },
          ...(withSignal ? { signal: never, timeout: TIMEOUT_MS } : {}),
        },
        (res) => {
          // As the library does: the status is the answer, the body is read and dropped.
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  const post: Record<ClientName, (body: Buffer) => Promise<number>> = {
    axios: async (body) => {
      const outcome = await client.post(body, never);
      if (outcome.error) throw outcome.error;
      return outcome.statusCode;
    },
    http: (body) => viaHttp(body, false),
    'http-signal': (body) => viaHttp(body, true),
  };
  const names = Object.keys(post) as ClientName[];

  const results: BatchCost[] = [];
  for (const batchSize of p.batchSizes) {
    const batches = Array.from({ length: p.bodies }, () => trackedEvents(batchSize));
    serialiseCost(batches[0], 10_000); // warm-up
    const serialiseUsPerEvent = serialiseCost(batches[0], 20_000);
    const bodies = batches.map((batch) => serialiseBatch(batch, Date.now()));
    let next = 0;
    const send = async (name: ClientName) => {
      const status = await post[name](bodies[next++ % bodies.length]);
      if (status !== 200) throw new Error(`${name}: the collector answered HTTP ${status}`);
    };
    for (const name of names) for (let i = 0; i < p.warmupRequests; i++) await send(name);

    const requests = Math.max(1, Math.round(p.eventsPerBlock / batchSize));
    const clients = Object.fromEntries(
      names.map((n) => [n, { cpuUs: 0, wallMs: 0, requests: 0, events: 0 }]),
    ) as Record<ClientName, ClientCost>;
    for (let block = 0; block < p.blocks; block++) {
      const k = block % names.length;
      for (const name of [...names.slice(k), ...names.slice(0, k)]) {
        const cpu0 = process.cpuUsage();
        const wall0 = performance.now();
        for (let i = 0; i < requests; i++) await send(name);
        const cpu = process.cpuUsage(cpu0);
        const cost = clients[name];
        cost.cpuUs += cpu.user + cpu.system;
        cost.wallMs += performance.now() - wall0;
        cost.requests += requests;
        cost.events += requests * batchSize;
      }
    }
    results.push({ batchSize, bodyBytes: bodies[0].length, serialiseUsPerEvent, clients });
  }
  client.close();
  agent.destroy();
  await report({ type: 'result', results });
});
