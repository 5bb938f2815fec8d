import type { IncomingMessage, ServerResponse } from 'node:http';
import type { CollectorChange, EventStore, StoredRecord } from './event-store';

/** What the stream sends for one event. */
interface StreamRecord {
  id: number;
  kind: 'good' | 'bad';
  event: unknown;
}

/** Past this many unsent bytes a slow page is cut off; it reconnects and gets a fresh snapshot. */
const MAX_BUFFERED_BYTES = 32 * 1024 * 1024;
const KEEPALIVE_MS = 15_000;

/**
 * `GET /micro/stream`: the events as Server-Sent Events. First `snapshot` with every event kept,
 * then `events` with the events recorded since (batched per turn of the event loop) and `reset`
 * when the store is reset; each carries the store's counts, so a page that keeps the last
 * `counts.total` events mirrors the store, dropped events included.
 */
export function streamEvents(req: IncomingMessage, res: ServerResponse, store: EventStore): void {
  res.writeHead(200, {
    'Content-Type': 'text/event-stream; charset=utf-8',
    'Cache-Control': 'no-store',
    'X-Accel-Buffering': 'no',
  });
  res.write('retry: 1000\n\n');
  send(res, 'snapshot', { records: store.records().map(toStreamRecord), counts: store.counts() });

  let pending: StreamRecord[] = [];
  let scheduled: NodeJS.Immediate | undefined;
  const flush = () => {
    scheduled = undefined;
    if (pending.length === 0) return;
    const records = pending;
    pending = [];
    send(res, 'events', { records, counts: store.counts() });
  };
  const listener = (change: CollectorChange) => {
    if (change.type === 'reset') {
      if (scheduled) clearImmediate(scheduled);
      flush();
      send(res, 'reset', { counts: store.counts() });
      return;
    }
    pending.push(toStreamRecord(change));
    scheduled ??= setImmediate(flush);
  };
  const unsubscribe = store.subscribe(listener);
  const keepalive = setInterval(() => res.write(': keepalive\n\n'), KEEPALIVE_MS);
  keepalive.unref();
  const stop = () => {
    unsubscribe();
    clearInterval(keepalive);
    if (scheduled) clearImmediate(scheduled);
  };
  req.on('close', stop);
  res.on('close', stop);
  res.on('error', stop);
}

function toStreamRecord({ id, record }: StoredRecord): StreamRecord {
  return { id, kind: record.kind, event: record.event };
}

function send(res: ServerResponse, name: string, value: unknown): void {
  if (res.destroyed || res.writableEnded) return;
  // JSON has no raw newlines, so the payload is one `data:` line.
  res.write(`event: ${name}\ndata: ${JSON.stringify(value)}\n\n`);
  if (res.writableLength > MAX_BUFFERED_BYTES) res.end();
}
