import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FaultStep } from './fault-plan';
import { FaultRunner } from './fault-runner';
import type { EventStore } from './event-store';
import { CollectorRequest, RequestFault, RequestLog, requestPayloads } from './request-log';
import type { BodyRead } from './request-body';
import type { DecodeResult } from './types';

/**
 * What the local collector does with one tracker request instead of its normal answer, as the
 * `behaviour` hook returns it. A 2xx status still stores the request's events.
 */
export type CollectorReply =
  | {
      /** The status to answer. */
      status: number;
      /** Extra response headers, e.g. `Retry-After` or `Location`. */
      headers?: Record<string, string>;
      /** Answer only once this settles. */
      after?: Promise<unknown>;
      /** The response body (default `ok` below 400, `error` from 400). */
      body?: string;
      /** Send the status and this many bytes of `body`, then destroy the socket mid-body. */
      cutAfterBytes?: number;
    }
  /** Read the whole body, then never answer. */
  | { hang: true }
  /** Read the whole body, then reset the connection. */
  | { reset: true };

/**
 * Decides a tracker request's reply in code, before the fault plan: `index` is its place in the
 * request log. Returning undefined leaves the request to the fault plan and the normal answer.
 */
export type CollectorBehaviour = (request: CollectorRequest, index: number) => CollectorReply | undefined;

/** A tracker route's normal work: what the request decodes to and its answer, and writing that answer. */
export interface TrackerRoute {
  outcome(read: BodyRead, receivedAt: Date): { status: number; result: DecodeResult };
  respond(res: ServerResponse, outcome: { status: number; result: DecodeResult }): void;
}

interface Sleeper {
  timer: NodeJS.Timeout;
  wake(): void;
}

/** The tracker requests of one collector: their log, the fault plan and the hooks that shape answers. */
export class TrackerTraffic {
  readonly log: RequestLog;
  readonly faults = new FaultRunner();
  behaviour?: CollectorBehaviour;
  resetMidBody?: (startedAt: number) => boolean;
  /** Told of each request once its fate is known; what it throws is ignored. */
  onRequest?: (request: CollectorRequest) => void;
  private readonly sleepers = new Set<Sleeper>();

  constructor(
    private readonly store: EventStore,
    private readonly maxBodyBytes: number,
    maxRequests: number,
  ) {
    this.log = new RequestLog(maxRequests);
  }

  /** Ends every pending delay at once (the collector is closing; their sockets are gone). */
  wakeAll(): void {
    for (const sleeper of [...this.sleepers]) sleeper.wake();
  }

  /** Serves one tracker request: records it, applies the hook or the fault plan, else the normal answer. */
  async serve(req: IncomingMessage, res: ServerResponse, route: TrackerRoute): Promise<void> {
    const startedAt = Date.now();
    this.track(res);
    const read = await readTracked(req, this.maxBodyBytes, this.resetMidBody?.(startedAt) ?? false);
    const request: CollectorRequest = {
      method: req.method ?? '',
      url: req.url ?? '',
      headers: req.headers,
      body: read.tooLarge ? '' : read.body.toString('utf8'),
      complete: read.complete,
      receivedAt: read.cut ? startedAt : Date.now(),
    };
    if (read.cut) {
      request.fate = read.complete ? 'reset' : 'reset-mid-body';
      request.fault = { source: 'behaviour', kind: 'reset' };
      this.log.add(request);
      req.socket.destroy();
      return this.tell(request);
    }
    const index = this.log.add(request);
    let outcome: ReturnType<TrackerRoute['outcome']> | undefined;
    const decode = () => (outcome ??= route.outcome(read, new Date(request.receivedAt)));
    const hooked = this.behaviour?.(request, index);
    const { reply, delayMs, fault } = hooked
      ? { reply: hooked, delayMs: 0, fault: behaviourFault(hooked) }
      : this.fromPlan({ raw: requestPayloads(request), decoded: () => decode().result.good });
    request.fault = fault;
    if (delayMs > 0) await this.sleep(delayMs);
    if (reply && 'hang' in reply) return this.settle(request, 'hung');
    if (reply && 'after' in reply && reply.after) await reply.after;
    if (res.destroyed) return this.settle(request, 'reset');
    if (reply && 'reset' in reply) {
      req.socket.destroy();
      return this.settle(request, 'reset');
    }
    if (!reply) {
      this.store.add(decode().result, request.fault);
      route.respond(res, decode());
      return this.settle(request, 'answered', decode().status);
    }
    if (reply.status >= 200 && reply.status < 300) this.store.add(decode().result, request.fault);
    answer(res, reply);
    this.settle(request, 'answered', reply.status);
  }

  private fromPlan(subject: Parameters<FaultRunner['choose']>[0]): {
    reply?: CollectorReply;
    delayMs: number;
    fault?: RequestFault;
  } {
    const choice = this.faults.choose(subject);
    if (!choice) return { delayMs: 0 };
    const { fault: step } = choice;
    const fault: RequestFault = { source: 'plan', step: choice.step, kind: planKind(step) };
    return { reply: planReply(step), delayMs: step.delayMs ?? 0, fault };
  }

  private settle(request: CollectorRequest, fate: CollectorRequest['fate'], status?: number): void {
    request.fate = fate;
    if (status !== undefined) request.status = status;
    this.log.settled(request);
    this.tell(request);
  }

  private tell(request: CollectorRequest): void {
    try {
      this.onRequest?.(request);
    } catch {
      // A failing observer must not change the answer.
    }
  }

  private track(res: ServerResponse): void {
    const log = this.log;
    log.inFlight++;
    log.maxInFlight = Math.max(log.maxInFlight, log.inFlight);
    let open = true;
    // 'close' comes when the answer was sent, or when the connection went away unanswered.
    res.on('close', () => {
      if (!open) return;
      open = false;
      log.inFlight--;
      log.changed();
    });
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const sleeper: Sleeper = {
        timer: setTimeout(() => sleeper.wake(), ms),
        wake: () => {
          clearTimeout(sleeper.timer);
          this.sleepers.delete(sleeper);
          resolve();
        },
      };
      this.sleepers.add(sleeper);
    });
  }
}

function planKind(step: FaultStep): RequestFault['kind'] {
  if (step.hang) return 'hang';
  if (step.reset) return 'reset';
  return step.status !== undefined ? 'status' : 'delay';
}

function planReply(step: FaultStep): CollectorReply | undefined {
  if (step.hang) return { hang: true };
  if (step.reset) return { reset: true };
  if (step.status === undefined) return undefined;
  const headers: Record<string, string> = {};
  if (step.retryAfter !== undefined) headers['Retry-After'] = String(step.retryAfter);
  if (step.location !== undefined) headers.Location = step.location;
  return { status: step.status, headers };
}

/** A hook's reply is a fault unless it is a plain, prompt 2xx. */
function behaviourFault(reply: CollectorReply): RequestFault | undefined {
  if ('hang' in reply) return { source: 'behaviour', kind: 'hang' };
  if ('reset' in reply) return { source: 'behaviour', kind: 'reset' };
  if (reply.status >= 300 || reply.cutAfterBytes !== undefined) return { source: 'behaviour', kind: 'status' };
  return reply.after ? { source: 'behaviour', kind: 'delay' } : undefined;
}

function answer(res: ServerResponse, reply: Extract<CollectorReply, { status: number }>): void {
  const body = Buffer.from(reply.body ?? (reply.status < 400 ? 'ok' : 'error'));
  res.writeHead(reply.status, {
    'Content-Type': 'text/plain',
    'Content-Length': String(body.length),
    ...reply.headers,
  });
  if (reply.cutAfterBytes === undefined) {
    res.end(body);
    return;
  }
  res.write(body.subarray(0, reply.cutAfterBytes), () => res.socket?.destroy());
}

type TrackedRead = BodyRead & { complete: boolean; cut: boolean };

/**
 * Reads the body up to `limitBytes` (keeping nothing past it). With `cutEarly`, resolves as soon as
 * the first part arrived (or at once for an empty body), for a reset before the body is complete.
 */
function readTracked(req: IncomingMessage, limitBytes: number, cutEarly: boolean): Promise<TrackedRead> {
  return new Promise((resolve, reject) => {
    let chunks: Buffer[] = [];
    let received = 0;
    const expected = Number(req.headers['content-length'] ?? NaN);
    req.on('data', (chunk: Buffer) => {
      received += chunk.length;
      if (received <= limitBytes) chunks.push(chunk);
      else chunks = [];
      if (!cutEarly) return;
      req.removeAllListeners('data');
      req.removeAllListeners('end');
      const body = Buffer.concat(chunks);
      resolve({ tooLarge: false, body, complete: !(received < expected), cut: true });
    });
    req.on('end', () => {
      const complete = true;
      if (received > limitBytes) resolve({ tooLarge: true, received, complete, cut: cutEarly });
      else resolve({ tooLarge: false, body: Buffer.concat(chunks), complete, cut: cutEarly });
    });
    req.on('error', reject);
  });
}
