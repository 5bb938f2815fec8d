import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import type { CollectorContext } from './collector-routes';
import { streamEvents } from './viewer-stream';

/** Where the event viewer page is served. */
export const VIEWER_PATH = '/micro/ui';

/**
 * The page's files, shipped in the package's `viewer/` folder (two levels above this file, in
 * `lib/testing` and in `dist/testing` alike): plain HTML, CSS and JavaScript, nothing to build.
 */
const VIEWER_DIR = join(__dirname, '..', '..', 'viewer');

const FILES: Record<string, { file: string; type: string }> = {
  [VIEWER_PATH]: { file: 'index.html', type: 'text/html; charset=utf-8' },
  [`${VIEWER_PATH}/events.js`]: { file: 'events.js', type: 'text/javascript; charset=utf-8' },
  [`${VIEWER_PATH}/detail.js`]: { file: 'detail.js', type: 'text/javascript; charset=utf-8' },
  [`${VIEWER_PATH}/faults.js`]: { file: 'faults.js', type: 'text/javascript; charset=utf-8' },
  [`${VIEWER_PATH}/requests.js`]: { file: 'requests.js', type: 'text/javascript; charset=utf-8' },
  [`${VIEWER_PATH}/viewer.js`]: { file: 'viewer.js', type: 'text/javascript; charset=utf-8' },
  [`${VIEWER_PATH}/viewer.css`]: { file: 'viewer.css', type: 'text/css; charset=utf-8' },
  [`${VIEWER_PATH}/faults.css`]: { file: 'faults.css', type: 'text/css; charset=utf-8' },
};

/** The page may load only its own files and talk only to this collector: no CDN, no font, no beacon. */
const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/** The paths of the page's static files. */
export const VIEWER_FILE_PATHS: ReadonlySet<string> = new Set(Object.keys(FILES));

type ViewerHandler = (req: IncomingMessage, res: ServerResponse, ctx: CollectorContext) => void;

const cache = new Map<string, Buffer>();

function serveFile(path: string): ViewerHandler {
  const { file, type } = FILES[path];
  return (_req, res) => {
    let body = cache.get(file);
    if (!body) {
      body = readFileSync(join(VIEWER_DIR, file));
      cache.set(file, body);
    }
    res.writeHead(200, {
      'Content-Type': type,
      'Content-Length': body.length,
      'Cache-Control': 'no-cache',
      'Content-Security-Policy': CONTENT_SECURITY_POLICY,
      'X-Content-Type-Options': 'nosniff',
      'Referrer-Policy': 'no-referrer',
    });
    res.end(body);
  };
}

/** The viewer's routes, by path then method, merged into the collector's. */
export const VIEWER_ROUTES: Record<string, Partial<Record<string, ViewerHandler>>> = {
  ...Object.fromEntries(Object.keys(FILES).map((path) => [path, { GET: serveFile(path) }])),
  '/micro/stream': { GET: (req, res, ctx) => streamEvents(req, res, ctx) },
};
