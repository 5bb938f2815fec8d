import { SnowplowError } from '../errors';

/**
 * Which requests a fault step applies to: those holding at least one event whose raw payload
 * `field` equals `equals` (e.g. `{ field: 'se_ac', equals: 'poison' }`), or whose decoded form
 * (as `GET /micro/good` shows it) has `equals` at the JSON pointer `path` (e.g.
 * `{ path: '/data/event_type', equals: 'purchase' }` or `{ path: '/contexts/0/data/quantity', equals: 3 }`).
 */
export type FaultMatch =
  | {
      /** A tracker payload key, e.g. `se_ac`, `aid` or `eid`; compared as a string. */
      field: string;
      /** The value it must have. */
      equals: string;
    }
  | {
      /** A JSON pointer into the decoded event: `/name`, `/data/...`, `/contexts/N/data/...`, `/raw/KEY`. */
      path: string;
      /** The value it must have (compared with `===`). */
      equals: string | number | boolean | null;
    };

/**
 * One step of a fault plan. It acts as a status (with optional `retryAfter` and `location`), a
 * hang, a connection reset, or a delay before the normal answer (`delayMs` alone); `delayMs` also
 * delays a status or a reset. Without `count` or `probability` it applies to every request it matches.
 */
export interface FaultStep {
  /** Answer with this status (200-599) instead of the normal answer. 2xx still stores the events. */
  status?: number;
  /** `Retry-After` header of the status answer: seconds, or an HTTP date. */
  retryAfter?: number | string;
  /** `Location` header of the status answer (for a 3xx). */
  location?: string;
  /** Wait this many milliseconds (0-600000) before answering or resetting. */
  delayMs?: number;
  /** Read the whole body, then never answer (until the client gives up or the collector closes). */
  hang?: true;
  /** Read the whole body, then reset the connection. */
  reset?: true;
  /** Apply to this many requests (a positive integer), then stand aside. */
  count?: number;
  /** Apply to each matching request with this probability (above 0, at most 1), drawn from `seed`. */
  probability?: number;
  /** Seed of the step's pseudo-random draws (an unsigned 32-bit integer; 1 by default): same seed, same faults. */
  seed?: number;
  /** Apply only to requests with an event that matches. */
  match?: FaultMatch;
}

/**
 * What the local collector does wrong on purpose. For each tracker request the first step that
 * applies (match, count left, probability draw) decides; a request no step takes is served normally.
 */
export interface FaultPlan {
  /** The steps, tried in order (1 to 100 of them). */
  steps: FaultStep[];
}

/** A fault plan that cannot be used; `field` names the culprit, e.g. `steps[0].status`. Code `INVALID_FAULT_PLAN`. */
export class InvalidFaultPlanError extends SnowplowError {
  constructor(
    /** Where in the plan, e.g. `steps[1].probability`. */
    readonly field: string,
    reason: string,
  ) {
    super(`Invalid fault plan "${field}": ${reason}`, 'INVALID_FAULT_PLAN');
  }
}

const STEP_KEYS = new Set([
  'status',
  'retryAfter',
  'location',
  'delayMs',
  'hang',
  'reset',
  'count',
  'probability',
  'seed',
  'match',
]);
const MAX_STEPS = 100;
const MAX_DELAY_MS = 600_000;
// Header values: printable ASCII and tabs only, so no header can be split or injected.
const HEADER_VALUE = /^[\t\x20-\x7e]{1,2048}$/;

type Json = Record<string, unknown>;

const isObject = (value: unknown): value is Json =>
  typeof value === 'object' && value !== null && !Array.isArray(value);
const isInt = (value: unknown, min: number, max: number): value is number =>
  typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max;

/** Checks a plan (e.g. parsed from JSON) and returns a copy; throws `InvalidFaultPlanError` naming the field. */
export function validateFaultPlan(input: unknown): FaultPlan {
  if (!isObject(input)) throw new InvalidFaultPlanError('plan', 'must be an object like {"steps": [...]}');
  for (const key of Object.keys(input)) {
    if (key !== 'steps') throw new InvalidFaultPlanError(key, 'is not a plan key (only "steps")');
  }
  const steps = input.steps;
  if (!Array.isArray(steps) || steps.length === 0 || steps.length > MAX_STEPS) {
    throw new InvalidFaultPlanError('steps', `must be an array of 1 to ${MAX_STEPS} steps`);
  }
  return { steps: steps.map((step, index) => validateStep(step, `steps[${index}]`)) };
}

function validateStep(input: unknown, at: string): FaultStep {
  if (!isObject(input)) throw new InvalidFaultPlanError(at, 'must be an object');
  for (const key of Object.keys(input)) {
    if (!STEP_KEYS.has(key)) {
      throw new InvalidFaultPlanError(`${at}.${key}`, `is not a step key (one of ${[...STEP_KEYS].join(', ')})`);
    }
  }
  const step: FaultStep = {};
  const { status, retryAfter, location, delayMs, hang, reset, count, probability, seed, match } = input;
  if (status !== undefined) {
    if (!isInt(status, 200, 599)) throw new InvalidFaultPlanError(`${at}.status`, 'must be an integer 200-599');
    step.status = status;
  }
  if (retryAfter !== undefined) step.retryAfter = checkRetryAfter(retryAfter, `${at}.retryAfter`);
  if (location !== undefined) step.location = checkHeader(location, `${at}.location`);
  if (delayMs !== undefined) {
    if (!isInt(delayMs, 0, MAX_DELAY_MS)) {
      throw new InvalidFaultPlanError(`${at}.delayMs`, `must be an integer 0-${MAX_DELAY_MS}`);
    }
    step.delayMs = delayMs;
  }
  if (hang !== undefined) step.hang = checkTrue(hang, `${at}.hang`);
  if (reset !== undefined) step.reset = checkTrue(reset, `${at}.reset`);
  if (count !== undefined) {
    if (!isInt(count, 1, Number.MAX_SAFE_INTEGER)) {
      throw new InvalidFaultPlanError(`${at}.count`, 'must be a positive integer');
    }
    step.count = count;
  }
  if (probability !== undefined) {
    if (typeof probability !== 'number' || !(probability > 0 && probability <= 1)) {
      throw new InvalidFaultPlanError(`${at}.probability`, 'must be a number above 0 and at most 1');
    }
    step.probability = probability;
  }
  if (seed !== undefined) {
    if (!isInt(seed, 0, 0xffffffff)) throw new InvalidFaultPlanError(`${at}.seed`, 'must be an integer 0-4294967295');
    if (probability === undefined) throw new InvalidFaultPlanError(`${at}.seed`, 'needs a probability');
    step.seed = seed;
  }
  if (match !== undefined) step.match = checkMatch(match, `${at}.match`);
  checkActions(step, at);
  return step;
}

/** A step does one thing: a status, a hang, a reset, or only a delay. */
function checkActions(step: FaultStep, at: string): void {
  const actions = (['status', 'hang', 'reset'] as const).filter((key) => step[key] !== undefined);
  if (actions.length > 1) {
    throw new InvalidFaultPlanError(`${at}.${actions[1]}`, `cannot be combined with "${actions[0]}"`);
  }
  if (actions.length === 0 && step.delayMs === undefined) {
    throw new InvalidFaultPlanError(at, 'needs one of "status", "hang", "reset" or "delayMs"');
  }
  if (step.status === undefined) {
    for (const key of ['retryAfter', 'location'] as const) {
      if (step[key] !== undefined) throw new InvalidFaultPlanError(`${at}.${key}`, 'needs a "status"');
    }
  }
  if (step.hang && step.delayMs !== undefined) {
    throw new InvalidFaultPlanError(`${at}.delayMs`, 'cannot be combined with "hang" (a hang never answers)');
  }
}

function checkTrue(value: unknown, at: string): true {
  if (value !== true) throw new InvalidFaultPlanError(at, 'must be true when given');
  return true;
}

function checkHeader(value: unknown, at: string): string {
  if (typeof value !== 'string' || !HEADER_VALUE.test(value)) {
    throw new InvalidFaultPlanError(at, 'must be a non-empty string of printable ASCII (at most 2048 characters)');
  }
  return value;
}

function checkRetryAfter(value: unknown, at: string): number | string {
  if (typeof value === 'number') {
    if (!isInt(value, 0, 2_147_483)) throw new InvalidFaultPlanError(at, 'must be whole seconds (0-2147483) or a date');
    return value;
  }
  return checkHeader(value, at);
}

function checkMatch(input: unknown, at: string): FaultMatch {
  if (!isObject(input))
    throw new InvalidFaultPlanError(
      at,
      'must be {"field": KEY, "equals": STRING} or {"path": POINTER, "equals": VALUE}',
    );
  const keys = Object.keys(input).sort().join(',');
  if (keys === 'equals,field') {
    if (typeof input.field !== 'string' || input.field === '') {
      throw new InvalidFaultPlanError(`${at}.field`, 'must be a non-empty string (a payload key such as se_ac)');
    }
    if (typeof input.equals !== 'string')
      throw new InvalidFaultPlanError(`${at}.equals`, 'must be a string for a field match');
    return { field: input.field, equals: input.equals };
  }
  if (keys === 'equals,path') {
    if (typeof input.path !== 'string' || !input.path.startsWith('/')) {
      throw new InvalidFaultPlanError(`${at}.path`, 'must be a JSON pointer starting with "/", e.g. /data/event_type');
    }
    const { equals } = input;
    if (equals !== null && !['string', 'number', 'boolean'].includes(typeof equals)) {
      throw new InvalidFaultPlanError(`${at}.equals`, 'must be a string, number, boolean or null');
    }
    return { path: input.path, equals: equals as string | number | boolean | null };
  }
  throw new InvalidFaultPlanError(at, 'must have "equals" and exactly one of "field" or "path"');
}
