import { FaultMatch, FaultPlan, FaultStep, validateFaultPlan } from './fault-plan';
import type { GoodEvent, RawEvent } from './types';

/** What the fault plan decided for one request. */
export interface FaultChoice {
  /** The index of the step that took the request. */
  step: number;
  /** That step. */
  fault: FaultStep;
}

/** The plan in force and how many requests each step took, as `GET /micro/faults` answers. */
export interface FaultPlanState {
  /** The plan, or null when none is set. */
  plan: FaultPlan | null;
  /** Requests each step took so far, by step index. */
  applied: number[];
}

/** The events of a request, for matching: raw payloads at once, decoded ones on demand. */
export interface MatchSubject {
  raw: RawEvent[];
  decoded(): GoodEvent[];
}

/**
 * mulberry32: a small, well-known 32-bit seeded PRNG (public domain), enough for reproducible
 * fault draws. Returns numbers in [0, 1).
 */
function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Follows an RFC 6901 JSON pointer; undefined when it leads nowhere. */
export function resolvePointer(value: unknown, pointer: string): unknown {
  let current = value;
  for (const token of pointer.slice(1).split('/')) {
    const key = token.replace(/~1/g, '/').replace(/~0/g, '~');
    if (typeof current !== 'object' || current === null || !Object.hasOwn(current, key)) return undefined;
    current = (current as Record<string, unknown>)[key];
  }
  return current;
}

function matches(match: FaultMatch, subject: MatchSubject): boolean {
  if ('field' in match) return subject.raw.some((event) => event[match.field] === match.equals);
  return subject.decoded().some((event) => resolvePointer(event, match.path) === match.equals);
}

interface StepState {
  used: number;
  random?: () => number;
}

/** A fault plan in force: picks the step for each request, counting and drawing as it goes. */
export class FaultRunner {
  private plan: FaultPlan | null = null;
  private steps: StepState[] = [];
  private readonly listeners = new Set<() => void>();

  /** Calls `listener` when the plan is set or cleared and when a step takes a request; returns the unsubscribe. */
  listen(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Replaces the plan (validated; throws `InvalidFaultPlanError`) and starts its counts afresh; null clears it. */
  set(plan: unknown): FaultPlanState {
    this.plan = plan === null ? null : validateFaultPlan(plan);
    this.steps = (this.plan?.steps ?? []).map((step) =>
      step.probability === undefined ? { used: 0 } : { used: 0, random: mulberry32(step.seed ?? 1) },
    );
    this.changed();
    return this.state();
  }

  state(): FaultPlanState {
    return { plan: this.plan, applied: this.steps.map((step) => step.used) };
  }

  /** The step that takes this request, if any; counts it as used. */
  choose(subject: MatchSubject): FaultChoice | undefined {
    const steps = this.plan?.steps ?? [];
    for (let index = 0; index < steps.length; index++) {
      const fault = steps[index];
      const state = this.steps[index];
      if (fault.count !== undefined && state.used >= fault.count) continue;
      if (fault.match && !matches(fault.match, subject)) continue;
      if (state.random && state.random() >= (fault.probability as number)) continue;
      state.used++;
      this.changed();
      return { step: index, fault };
    }
    return undefined;
  }

  private changed(): void {
    for (const listener of [...this.listeners]) {
      try {
        listener();
      } catch {
        // A failing listener must not change the answer.
      }
    }
  }
}
