import { readFileSync } from 'node:fs';
import { FaultPlan, InvalidFaultPlanError, validateFaultPlan } from './fault-plan';

/** Compact step keys of `--fault` and the step fields they set. */
const COMPACT_KEYS: Record<string, string> = {
  status: 'status',
  'retry-after': 'retryAfter',
  location: 'location',
  delay: 'delayMs',
  hang: 'hang',
  reset: 'reset',
  count: 'count',
  probability: 'probability',
  seed: 'seed',
  match: 'match',
};
const NUMERIC = new Set(['status', 'delayMs', 'count', 'probability', 'seed']);

/**
 * Reads one `--fault` value: a JSON step (`{"status":503,"count":2}`) or the compact form
 * `status=503,retry-after=5,count=2`, `hang`, `reset,probability=0.1,seed=7`, `delay=2000` or
 * `status=400,match=se_ac:poison` (a field match). Throws `InvalidFaultPlanError` naming the key.
 */
export function parseFaultFlag(value: string, index: number): unknown {
  const at = `--fault #${index + 1}`;
  if (value.trim().startsWith('{')) {
    try {
      return JSON.parse(value) as unknown;
    } catch (error) {
      throw new InvalidFaultPlanError(at, `is not JSON: ${(error as Error).message}`);
    }
  }
  const step: Record<string, unknown> = {};
  for (const part of value.split(',')) {
    const [key, ...rest] = part.trim().split('=');
    const raw = rest.join('=');
    const field = Object.hasOwn(COMPACT_KEYS, key) ? COMPACT_KEYS[key] : undefined;
    if (!field) {
      throw new InvalidFaultPlanError(
        `${at} ${key}`,
        `is not a fault key (one of ${Object.keys(COMPACT_KEYS).join(', ')})`,
      );
    }
    if (field === 'hang' || field === 'reset') step[field] = rest.length === 0 || raw === 'true' ? true : raw;
    else if (field === 'match') step.match = compactMatch(raw, `${at} match`);
    else if (NUMERIC.has(field) || (field === 'retryAfter' && /^[0-9]+$/.test(raw))) step[field] = toNumber(raw);
    else step[field] = raw;
  }
  return step;
}

function compactMatch(raw: string, at: string): unknown {
  const colon = raw.indexOf(':');
  if (colon <= 0) throw new InvalidFaultPlanError(at, 'must be FIELD:VALUE, e.g. se_ac:poison');
  return { field: raw.slice(0, colon), equals: raw.slice(colon + 1) };
}

/** A number when the text is one; the text otherwise, for the plan check to name. */
function toNumber(raw: string): number | string {
  return raw.trim() !== '' && Number.isFinite(Number(raw)) ? Number(raw) : raw;
}

/**
 * The plan of the bin's flags: the steps of the `--faults FILE` plan (JSON), then one per
 * `--fault`. Undefined when neither is given. Throws `InvalidFaultPlanError`.
 */
export function faultPlanFromFlags(file: string | undefined, steps: readonly string[]): FaultPlan | undefined {
  if (file === undefined && steps.length === 0) return undefined;
  const fromFile = file === undefined ? [] : readPlanFile(file).steps;
  return validateFaultPlan({ steps: [...fromFile, ...steps.map(parseFaultFlag)] });
}

function readPlanFile(file: string): FaultPlan {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new InvalidFaultPlanError(
      '--faults',
      `cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? 'error'}`,
    );
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new InvalidFaultPlanError('--faults', `${file} is not JSON: ${(error as Error).message}`);
  }
  return validateFaultPlan(parsed);
}
