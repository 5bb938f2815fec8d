import type { IncomingMessage, ServerResponse } from 'node:http';
import { isIP } from 'node:net';
import { VIEWER_FILE_PATHS } from './viewer-routes';

/** Paths trackers send to: any origin may POST (or GET the pixel) without credentials. */
const TRACKER_PATHS = new Set(['/com.snowplowanalytics.snowplow/tp2', '/i', '/com.snowplowanalytics.snowplow/i']);

/**
 * The collector's cross-origin rules. Tracker endpoints answer any origin with
 * `Access-Control-Allow-Origin: *` and never allow credentials. Everything else (`/micro/*`: the
 * REST API, reset, the event stream, the fault plan) answers only the page's own origin and tools
 * that send no origin (curl, tests): a request a browser marks as coming from another site, or
 * one whose `Host` is not a loopback name while it arrived on loopback (DNS rebinding), gets 403
 * and no CORS headers. Sets the headers; returns the reason a request is refused, or undefined.
 */
export function applyOriginPolicy(req: IncomingMessage, res: ServerResponse, pathname: string): string | undefined {
  if (TRACKER_PATHS.has(pathname)) {
    res.setHeader('Access-Control-Allow-Origin', '*');
    return undefined;
  }
  // The viewer's static files: anyone may load them (a shared link opens the page).
  if (VIEWER_FILE_PATHS.has(pathname) && req.method === 'GET') return undefined;
  if (!pathname.startsWith('/micro/')) return undefined;
  return refusal(req);
}

function refusal(req: IncomingMessage): string | undefined {
  const host = req.headers.host ?? '';
  if (isLoopbackAddress(req.socket.localAddress) && !isLoopbackHost(host)) {
    return `Host "${host}" is not a loopback name: /micro/* answers only localhost on a loopback collector`;
  }
  const origin = req.headers.origin;
  if (origin !== undefined && origin !== `http://${host}`) {
    return `cross-origin request from ${origin} refused: /micro/* answers only its own page and tools without an Origin`;
  }
  const site = req.headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin' && site !== 'none') {
    return `${String(site)} request refused: /micro/* answers only its own page and tools`;
  }
  return undefined;
}

function isLoopbackAddress(address: string | undefined): boolean {
  if (!address) return false;
  const v4 = address.startsWith('::ffff:') ? address.slice('::ffff:'.length) : address;
  return v4 === '::1' || /^127\./.test(v4);
}

/** `localhost`, `*.localhost`, 127.x.x.x or [::1], with or without a port. */
function isLoopbackHost(host: string): boolean {
  const name = host.startsWith('[') ? host.slice(1, host.indexOf(']')) : host.replace(/:\d+$/, '');
  const lower = name.toLowerCase();
  if (lower === 'localhost' || lower.endsWith('.localhost')) return true;
  if (isIP(lower) === 4) return lower.startsWith('127.');
  return lower === '::1';
}
