import type { IncomingMessage, ServerResponse } from 'node:http';
import type { CollectorContext, MethodHandlers } from './collector-routes';
import { InvalidFaultPlanError } from './fault-plan';
import { readBody } from './request-body';
import { summarizeRequest } from './request-log';

const MAX_PLAN_BYTES = 64 * 1024;

/**
 * The fault plan over HTTP: `GET` reads it with the requests each step took, `POST` sets it (a JSON
 * plan; 400 naming the field when it is wrong), `DELETE` clears it. `GET /micro/requests` lists the
 * tracker requests with their fate and fault, without headers or bodies.
 */
export const FAULT_ROUTES: Record<string, MethodHandlers> = {
  '/micro/faults': {
    GET: (_req, res, ctx) => sendJson(res, 200, ctx.traffic.faults.state()),
    POST: setPlan,
    DELETE: (_req, res, ctx) => sendJson(res, 200, ctx.traffic.faults.set(null)),
  },
  '/micro/requests': {
    GET: (_req, res, ctx) => sendJson(res, 200, ctx.traffic.log.requests.map(summarizeRequest)),
  },
};

async function setPlan(req: IncomingMessage, res: ServerResponse, ctx: CollectorContext): Promise<void> {
  const read = await readBody(req, MAX_PLAN_BYTES);
  if (read.tooLarge) return sendJson(res, 413, { error: `a fault plan is at most ${MAX_PLAN_BYTES} bytes` });
  let plan: unknown;
  try {
    plan = JSON.parse(read.body.toString('utf8'));
  } catch (error) {
    return sendJson(res, 400, { error: `the fault plan is not JSON: ${(error as Error).message}`, field: 'plan' });
  }
  // null would clear the plan: that is what DELETE is for.
  if (plan === null) return sendJson(res, 400, { error: 'the fault plan must be an object', field: 'plan' });
  try {
    sendJson(res, 200, ctx.traffic.faults.set(plan));
  } catch (error) {
    if (!(error instanceof InvalidFaultPlanError)) throw error;
    sendJson(res, 400, { error: error.message, field: error.field, code: error.code });
  }
}

function sendJson(res: ServerResponse, status: number, value: unknown): void {
  const text = JSON.stringify(value);
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
  });
  res.end(text);
}
