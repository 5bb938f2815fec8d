import type { IncomingMessage } from 'node:http';

/** A request body read up to a size limit. */
export type BodyRead = { tooLarge: false; body: Buffer } | { tooLarge: true; received: number };

/**
 * Buffers the request body while it stays within `limitBytes`. Past the limit it keeps reading
 * (so the client can still receive the answer) but drops the bytes, holding at most the limit.
 */
export function readBody(req: IncomingMessage, limitBytes: number): Promise<BodyRead> {
  return new Promise((resolve, reject) => {
    let chunks: Buffer[] = [];
    let received = 0;
    req.on('data', (chunk: Buffer) => {
      received += chunk.length;
      if (received <= limitBytes) chunks.push(chunk);
      else chunks = [];
    });
    req.on('end', () =>
      resolve(received > limitBytes ? { tooLarge: true, received } : { tooLarge: false, body: Buffer.concat(chunks) }),
    );
    req.on('error', reject);
  });
}
