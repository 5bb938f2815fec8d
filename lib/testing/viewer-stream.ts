import type { IncomingMessage, ServerResponse } from 'node:http';
import type { CollectorChange, EventStore, StoredRecord } from './event-store';
import { CollectorRequest, RequestFault, RequestLogChange, RequestSummary, summarizeRequest } from './request-log';
import type { TrackerTraffic } from './tracker-traffic';

/** What the stream sends for one event. */
interface StreamRecord {
  id: number;
  kind: 'good' | 'bad';
  event: unknown;
  /** The fault of the request that brought it, when that request was faulted yet stored. */
  fault?: RequestFault;
}

/** What the stream sends for one tracker request: its summary and its index since the last reset. */
type StreamRequest = RequestSummary & { id: number };

/** Past this many unsent bytes a slow page is cut off; it reconnects and gets a fresh snapshot. */
const MAX_BUFFERED_BYTES = 32 * 1024 * 1024;
const KEEPALIVE_MS = 15_000;
/** The newest requests a `requests` snapshot holds (the page keeps as many). */
export const STREAM_REQUESTS = 500;

/**
 * `GET /micro/stream`: the events and the tracker requests as Server-Sent Events.
 * - `snapshot` with every event kept, then `events` with the events recorded since (batched per
 *   turn of the event loop) and `reset` when the store is reset; each carries the store's counts,
 *   so a page that keeps the last `counts.total` events mirrors the store, dropped events included.
 *   An event that arrived in a faulted request that was still stored (a 2xx or a delay) has `fault`.
 * - `requests` with the newest tracker requests (at start and after a reset), then `request` with
 *   the requests added or settled since, by `id`; both carry `total`, the requests since the reset.
 * - `faults` with the fault plan in force and the requests each step took, at start and on change.
 */
export function streamEvents(
  req: IncomingMessage,
  res: ServerResponse,
  ctx: { store: EventStore; traffic: TrackerTraffic },
): void {
  const { store, traffic } = ctx;
  res.writeHead(200, {
    'Content-Type': 'text/event-stream; charset=utf-8',
    'Cache-Control': 'no-store',
    'X-Accel-Buffering': 'no',
  });
  res.write('retry: 1000\n\n');
  send(res, 'snapshot', { records: store.records().map(toStreamRecord), counts: store.counts() });
  sendRequests(res, traffic);
  send(res, 'faults', traffic.faults.state());

  let pending: StreamRecord[] = [];
  let pendingRequests = new Map<number, CollectorRequest>();
  let faultsChanged = false;
  let scheduled: NodeJS.Immediate | undefined;
  const flush = () => {
    scheduled = undefined;
    if (pending.length > 0) {
      const records = pending;
      pending = [];
      send(res, 'events', { records, counts: store.counts() });
    }
    if (pendingRequests.size > 0) {
      const requests = [...pendingRequests].map(([id, request]) => ({ id, ...summarizeRequest(request) }));
      pendingRequests = new Map();
      send(res, 'request', { requests, total: requestTotal(traffic) });
    }
    if (faultsChanged) {
      faultsChanged = false;
      send(res, 'faults', traffic.faults.state());
    }
  };
  const schedule = () => (scheduled ??= setImmediate(flush));
  const onStore = (change: CollectorChange) => {
    if (change.type === 'reset') {
      if (scheduled) clearImmediate(scheduled);
      flush();
      send(res, 'reset', { counts: store.counts() });
      return;
    }
    pending.push(toStreamRecord(change));
    schedule();
  };
  const onLog = (change?: RequestLogChange) => {
    if (!change) return;
    if (change.type === 'reset') {
      pendingRequests = new Map();
      sendRequests(res, traffic);
      return;
    }
    pendingRequests.set(change.id, change.request);
    schedule();
  };
  const onFaults = () => {
    faultsChanged = true;
    schedule();
  };
  const unsubscribe = [store.subscribe(onStore), traffic.log.listen(onLog), traffic.faults.listen(onFaults)];
  const keepalive = setInterval(() => res.write(': keepalive\n\n'), KEEPALIVE_MS);
  keepalive.unref();
  const stop = () => {
    for (const off of unsubscribe) off();
    clearInterval(keepalive);
    if (scheduled) clearImmediate(scheduled);
  };
  req.on('close', stop);
  res.on('close', stop);
  res.on('error', stop);
}

function requestTotal(traffic: TrackerTraffic): number {
  return traffic.log.dropped + traffic.log.requests.length;
}

function sendRequests(res: ServerResponse, traffic: TrackerTraffic): void {
  const all = traffic.log.requests;
  const first = Math.max(0, all.length - STREAM_REQUESTS);
  const requests: StreamRequest[] = [];
  for (let i = first; i < all.length; i++) requests.push({ id: traffic.log.dropped + i, ...summarizeRequest(all[i]) });
  send(res, 'requests', { requests, total: requestTotal(traffic) });
}

function toStreamRecord({ id, record, fault }: StoredRecord): StreamRecord {
  return fault ? { id, kind: record.kind, event: record.event, fault } : { id, kind: record.kind, event: record.event };
}

function send(res: ServerResponse, name: string, value: unknown): void {
  if (res.destroyed || res.writableEnded) return;
  // JSON has no raw newlines, so the payload is one `data:` line.
  res.write(`event: ${name}\ndata: ${JSON.stringify(value)}\n\n`);
  if (res.writableLength > MAX_BUFFERED_BYTES) res.end();
}
