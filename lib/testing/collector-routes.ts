import type { IncomingMessage, ServerResponse } from 'node:http';
import { decodeCollectorPost } from './collector-post';
import type { EventStore } from './event-store';
import { FAULT_ROUTES } from './fault-routes';
import type { IgluRegistry } from './iglu-registry';
import { applyOriginPolicy } from './origin-policy';
import { decodePixelQuery, TRANSPARENT_GIF } from './pixel';
import type { BodyRead } from './request-body';
import type { TrackerRoute, TrackerTraffic } from './tracker-traffic';
import type { DecodeResult } from './types';
import { VIEWER_ROUTES } from './viewer-routes';

/** What the request handler needs from the collector. */
export interface CollectorContext {
  registry: IgluRegistry;
  store: EventStore;
  maxBodyBytes: number;
  /** The tracker requests: their log, the fault plan and the test hooks. */
  traffic: TrackerTraffic;
}

/** A route handler. */
export type Handler = (
  req: IncomingMessage,
  res: ServerResponse,
  ctx: CollectorContext,
  url: URL,
) => Promise<void> | void;
export type MethodHandlers = Partial<Record<string, Handler>>;

export const TP2_PATH = '/com.snowplowanalytics.snowplow/tp2';

/** Handlers by path, then by method. */
const ROUTES: Record<string, MethodHandlers> = {
  [TP2_PATH]: { POST: handlePost },
  '/i': { GET: handlePixel },
  '/com.snowplowanalytics.snowplow/i': { GET: handlePixel },
  '/health': { GET: (_req, res) => sendText(res, 200, 'OK') },
  '/micro/all': { GET: (_req, res, ctx) => sendJson(res, 200, ctx.store.counts()) },
  '/micro/good': { GET: (_req, res, ctx) => sendJson(res, 200, ctx.store.snapshot().good) },
  '/micro/bad': { GET: (_req, res, ctx) => sendJson(res, 200, ctx.store.snapshot().bad) },
  '/micro/reset': { POST: handleReset, GET: handleReset },
  ...VIEWER_ROUTES,
  ...FAULT_ROUTES,
};

/** Answers one request. Never rejects: a failure becomes a 500 and, for tp2, a bad record. */
export async function handleRequest(req: IncomingMessage, res: ServerResponse, ctx: CollectorContext): Promise<void> {
  try {
    const url = new URL(req.url ?? '/', 'http://collector.invalid');
    const refused = applyOriginPolicy(req, res, url.pathname);
    if (refused) return sendJson(res, 403, { error: refused });
    const methods = Object.hasOwn(ROUTES, url.pathname) ? ROUTES[url.pathname] : undefined;
    if (req.method === 'OPTIONS') return preflight(req, res, methods);
    const method = req.method ?? '';
    const handler = methods && Object.hasOwn(methods, method) ? methods[method] : undefined;
    if (handler) return await handler(req, res, ctx, url);
    if (methods) return sendJson(res, 405, { error: `${req.method} not allowed` }, { Allow: allowed(methods) });
    return sendJson(res, 404, { error: `no route for ${url.pathname}` });
  } catch (error) {
    failed(req, res, ctx, error);
  }
}

function handlePost(req: IncomingMessage, res: ServerResponse, ctx: CollectorContext): Promise<void> {
  const route: TrackerRoute = {
    outcome: (read, receivedAt) => postOutcome(req, read, ctx, receivedAt),
    respond: (response, outcome) => answerPost(response, outcome.status, outcome.result),
  };
  return ctx.traffic.serve(req, res, route);
}

function postOutcome(req: IncomingMessage, read: BodyRead, ctx: CollectorContext, receivedAt: Date) {
  if (read.tooLarge) {
    const message = `body is ${read.received} bytes, over the ${ctx.maxBodyBytes}-byte limit`;
    return { status: 413, result: rejected(`(${read.received} bytes, not kept)`, message, receivedAt) };
  }
  return decodeCollectorPost(req.headers['content-type'], read.body, { registry: ctx.registry, receivedAt });
}

function handlePixel(req: IncomingMessage, res: ServerResponse, ctx: CollectorContext, url: URL): Promise<void> {
  const route: TrackerRoute = {
    outcome: (_read, receivedAt) => {
      const decoded = decodePixelQuery(url.searchParams, { registry: ctx.registry, receivedAt });
      return {
        status: 200,
        result: decoded.ok ? { good: [decoded.event], bad: [] } : { good: [], bad: [decoded.event] },
      };
    },
    respond: (response) => {
      response.writeHead(200, {
        'Content-Type': 'image/gif',
        'Content-Length': TRANSPARENT_GIF.length,
        'Cache-Control': 'no-store',
      });
      response.end(TRANSPARENT_GIF);
    },
  };
  return ctx.traffic.serve(req, res, route);
}

function handleReset(_req: IncomingMessage, res: ServerResponse, ctx: CollectorContext): void {
  ctx.store.reset();
  ctx.traffic.log.reset();
  sendJson(res, 200, ctx.store.counts());
}

/** Answers a decoded POST: `ok` for 200, the reasons as JSON otherwise. */
function answerPost(res: ServerResponse, status: number, result: DecodeResult): void {
  if (status === 200) return sendText(res, 200, 'ok');
  sendJson(res, status, { errors: result.bad.flatMap((event) => event.errors) });
}

function rejected(raw: unknown, message: string, receivedAt: Date): DecodeResult {
  return { good: [], bad: [{ raw, errors: [{ field: 'body', message }], receivedAt: receivedAt.toISOString() }] };
}

function failed(req: IncomingMessage, res: ServerResponse, ctx: CollectorContext, error: unknown): void {
  const message = `could not handle this request: ${error instanceof Error ? error.message : String(error)}`;
  if (req.method === 'POST' && req.url?.startsWith(TP2_PATH)) ctx.store.add(rejected(null, message, new Date()));
  if (res.headersSent) res.destroy();
  else sendJson(res, 500, { error: message });
}

function preflight(req: IncomingMessage, res: ServerResponse, methods: MethodHandlers | undefined): void {
  if (!methods) return sendJson(res, 404, { error: 'no such route' });
  res.writeHead(204, {
    'Access-Control-Allow-Methods': allowed(methods),
    'Access-Control-Allow-Headers': req.headers['access-control-request-headers'] ?? 'Content-Type',
    'Access-Control-Max-Age': '600',
  });
  res.end();
}

function allowed(methods: MethodHandlers): string {
  return [...Object.keys(methods), 'OPTIONS'].join(', ');
}

function sendText(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

function sendJson(res: ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(value);
  res.writeHead(status, {
    ...headers,
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
  });
  res.end(text);
}
