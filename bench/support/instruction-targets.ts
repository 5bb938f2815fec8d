/**
 * `npm run bench:instructions`: issue 27's instruction targets, as a table with a "met" column
 * (figures, not assertions). Each figure is the run's median per unit, TurboFan left out.
 */
import { fmt, table } from './stats';

/** The run's figure for ours or node-tracker; undefined when it was not measured (or failed). */
export type InstructionFigure = (
  figure: 'track' | 'batch100' | 'batch1000',
  subject: 'ours' | 'node-tracker',
) => number | undefined;

interface Target {
  target: string;
  value: (get: InstructionFigure) => number | undefined;
  shown: (value: number) => string;
  met: (value: number) => boolean;
}

const TARGETS: Target[] = [
  {
    target: 'per `trackEvent`, ours ≤ 8,000 instructions',
    value: (get) => get('track', 'ours'),
    shown: (v) => fmt(v),
    met: (v) => v <= 8_000,
  },
  {
    target: 'per `trackEvent`, node-tracker / ours ≥ 20× (what ≤ 8,000 gives)',
    value: (get) => {
      const ours = get('track', 'ours');
      const theirs = get('track', 'node-tracker');
      return ours && theirs ? theirs / ours : undefined;
    },
    shown: (v) => `${fmt(v, 1)}×`,
    met: (v) => v >= 20,
  },
  {
    target: 'per delivered event, batches of 100, ours ≤ 20,000 instructions',
    value: (get) => get('batch100', 'ours'),
    shown: (v) => fmt(v),
    met: (v) => v <= 20_000,
  },
  {
    target: 'per delivered event, batches of 1,000, ours ≤ 15,000 instructions',
    value: (get) => get('batch1000', 'ours'),
    shown: (v) => fmt(v),
    met: (v) => v <= 15_000,
  },
];

/** The targets section of the report: a line per target, "not measured" when its figure was not. */
export function instructionTargetsSection(get: InstructionFigure): string {
  const rows = TARGETS.map((t) => {
    const value = t.value(get);
    return value === undefined || !Number.isFinite(value)
      ? [t.target, 'not measured in this run', '—']
      : [t.target, t.shown(value), t.met(value) ? 'yes' : '**no**'];
  });
  return ['### Targets (issue 27; measured, not asserted)', '', table(['target', 'measured', 'met'], rows)].join('\n');
}
