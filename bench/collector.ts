/**
 * The benchmark's collector: a minimal loopback HTTP server, run as its own process, that answers
 * every tp2 POST with 200 and counts the events it carried, per `eid`. It validates nothing (the
 * library's testing collector validates every event against Iglu schemas and is slow by design).
 *
 *   POST /com.snowplowanalytics.snowplow/tp2   count the body's events, answer 200
 *   GET  /stats                                counters as JSON (see CollectorStats)
 *   POST /reset                                zero the counters
 *   POST /reset?times=1                        zero them, and from now on keep when each eid first arrived
 *   GET  /wait?eid=<uuid>&timeoutMs=<ms>       answers once that eid has arrived (long poll), with
 *                                              `{ "at": <ms> }`: when its request was answered, as
 *                                              kept since `/reset?times=1` (404 after timeoutMs)
 *
 * Started by bench/run.ts through `fork`; it sends `{ port }` over IPC once it listens.
 */
import { createServer, IncomingMessage, ServerResponse } from 'node:http';
import { AddressInfo } from 'node:net';
import type { CollectorStats } from './support/collector-client';

const EID_KEY = Buffer.from('"eid":"', 'latin1');
const EID_LENGTH = 36;

let counts = new Map<string, number>();
let requests = 0;
let events = 0;
/** TCP connections that carried tp2 requests: a keep-alive client opens one per socket it keeps. */
let connections = 0;
let tp2Sockets = new WeakSet<object>();
let bodyBytes = 0;
let firstAt = 0;
let lastAt = 0;
/** When each eid first arrived (wall-clock ms), kept only after `POST /reset?times=1`. */
let arrivals: Map<string, number> | undefined;
/** Long polls of `GET /wait`, by eid. */
const waiters = new Map<string, Array<(at: number) => void>>();

/** Wall-clock ms with sub-ms resolution, comparable across processes on this machine. */
function now(): number {
  return performance.timeOrigin + performance.now();
}

function reset(keepTimes: boolean): void {
  counts = new Map();
  arrivals = keepTimes ? new Map() : undefined;
  requests = 0;
  events = 0;
  bodyBytes = 0;
  firstAt = 0;
  lastAt = 0;
  connections = 0;
  tp2Sockets = new WeakSet();
}

/**
 * Finds every `"eid":"<uuid>"` in the body (event ids are the only such keys in payload_data)
 * without decoding the body; each eid becomes its own small string, not a slice of the body.
 */
function countEvents(body: Buffer, receivedAt: number): number {
  let found = 0;
  let at = body.indexOf(EID_KEY);
  while (at !== -1) {
    const start = at + EID_KEY.length;
    const eid = body.toString('latin1', start, start + EID_LENGTH);
    counts.set(eid, (counts.get(eid) ?? 0) + 1);
    if (arrivals && !arrivals.has(eid)) arrivals.set(eid, receivedAt);
    found++;
    at = body.indexOf(EID_KEY, start + EID_LENGTH);
  }
  return found;
}

function stats(): CollectorStats {
  let duplicates = 0;
  for (const seen of counts.values()) if (seen > 1) duplicates += seen - 1;
  const cpu = process.cpuUsage();
  return {
    requests,
    events,
    unique: counts.size,
    duplicates,
    bodyBytes,
    firstAt,
    lastAt,
    connections,
    cpuUs: cpu.user + cpu.system,
  };
}

function reply(res: ServerResponse, status: number, body: string, type = 'text/plain'): void {
  res.writeHead(status, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

function handle(req: IncomingMessage, res: ServerResponse): void {
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    const url = req.url ?? '';
    if (req.method === 'POST' && url.startsWith('/com.snowplowanalytics.snowplow/tp2')) {
      const body = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
      const at = now();
      const found = countEvents(body, at);
      requests++;
      if (!tp2Sockets.has(req.socket)) {
        tp2Sockets.add(req.socket);
        connections++;
      }
      events += found;
      bodyBytes += body.length;
      if (firstAt === 0) firstAt = at;
      lastAt = at;
      reply(res, 200, 'ok');
      if (waiters.size > 0) wakeWaiters();
      return;
    }
    if (req.method === 'GET' && url.startsWith('/wait?')) {
      waitFor(new URLSearchParams(url.slice('/wait?'.length)), res);
      return;
    }
    if (req.method === 'GET' && url === '/stats') {
      reply(res, 200, JSON.stringify(stats()), 'application/json');
      return;
    }
    if (req.method === 'POST' && (url === '/reset' || url === '/reset?times=1')) {
      reset(url.endsWith('times=1'));
      reply(res, 200, 'ok');
      return;
    }
    reply(res, 404, 'not found');
  });
}

/** Answers the long polls whose eid has arrived (the tp2 request's own answer goes first). */
function wakeWaiters(): void {
  for (const [eid, list] of waiters) {
    const at = arrivals?.get(eid);
    if (at === undefined) continue;
    waiters.delete(eid);
    for (const wake of list) wake(at);
  }
}

function waitFor(query: URLSearchParams, res: ServerResponse): void {
  const eid = query.get('eid') ?? '';
  if (!arrivals) {
    reply(res, 409, 'arrival times are not kept: POST /reset?times=1 first');
    return;
  }
  const known = arrivals.get(eid);
  const answer = (at: number) => reply(res, 200, JSON.stringify({ at }), 'application/json');
  if (known !== undefined) {
    answer(known);
    return;
  }
  const timer = setTimeout(
    () => {
      const list = waiters.get(eid)?.filter((w) => w !== wake);
      if (list?.length) waiters.set(eid, list);
      else waiters.delete(eid);
      reply(res, 404, `eid ${eid} did not arrive`);
    },
    Number(query.get('timeoutMs') ?? 10_000),
  );
  const wake = (at: number) => {
    clearTimeout(timer);
    answer(at);
  };
  waiters.set(eid, [...(waiters.get(eid) ?? []), wake]);
}

const server = createServer(handle);
// Idle connections stay open for 10 minutes: under valgrind (npm run bench:instructions) a client
// can be idle for minutes between two batches, and a connection closed under it fails a request.
server.keepAliveTimeout = 600_000;
server.headersTimeout = 610_000;
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address() as AddressInfo;
  if (process.send) process.send({ port });
  else console.log(`bench collector on http://127.0.0.1:${port}`);
});

// The orchestrator's exit closes the IPC channel: go with it.
process.on('disconnect', () => process.exit(0));
