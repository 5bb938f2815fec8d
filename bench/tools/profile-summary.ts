/**
 * Summarises a V8 .cpuprofile (from `node --cpu-prof`): self time per function and per package
 * or library file, and inclusive time of the functions matching a filter.
 *
 *   node -r ./bench/register.js bench/tools/profile-summary.ts FILE.cpuprofile [--top 25] [--match TEXT]
 *
 * Without --match, "our functions" are those in dist/ or in the bench's snapshot of it (bench/.build/lib/).
 *
 * To profile the bench's measured processes: BENCH_NODE_FLAGS="--cpu-prof --cpu-prof-dir=/tmp/prof".
 */
import { readFileSync } from 'node:fs';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

function where(frame: CallFrame): string {
  const url = frame.url.replace(/^file:\/\//, '');
  if (!url) return '(native)';
  const pkg = url.match(/node_modules\/((?:@[^/]+\/)?[^/]+)/);
  if (pkg) return pkg[1];
  const snapshot = url.match(/\/\.build\/lib\/(.*)$/);
  if (snapshot) return `dist/${snapshot[1]}`;
  const own = url.match(/\/(dist|lib|bench)\/(.*)$/);
  if (own) return `${own[1]}/${own[2]}`;
  if (url.startsWith('node:')) return url;
  return url;
}

function label(frame: CallFrame): string {
  return `${frame.functionName || '(anonymous)'} ${where(frame)}:${frame.lineNumber + 1}`;
}

function pct(us: number, total: number): string {
  return `${((us / total) * 100).toFixed(1).padStart(5)} %`;
}

function main(): void {
  const args = process.argv.slice(2);
  const file = args.find((a) => !a.startsWith('--') && !/^\d+$/.test(a));
  if (!file) {
    console.error('usage: profile-summary.ts FILE.cpuprofile [--top N] [--match TEXT]');
    process.exit(2);
  }
  const topIndex = args.indexOf('--top');
  const top = topIndex !== -1 ? Number(args[topIndex + 1]) : 25;
  const matchIndex = args.indexOf('--match');
  const match = matchIndex !== -1 ? args[matchIndex + 1] : undefined;
  const ours = (url: string) =>
    match ? url.includes(match) : !url.includes('/node_modules/') && /\/dist\/|\/\.build\/lib\//.test(url);

  const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);

  const self = new Map<number, number>();
  let total = 0;
  profile.samples.forEach((id, i) => {
    const dt = profile.timeDeltas[i] ?? 0;
    self.set(id, (self.get(id) ?? 0) + dt);
    total += dt;
  });

  const selfByFunction = new Map<string, number>();
  const selfByPlace = new Map<string, number>();
  const inclusive = new Map<string, number>();
  for (const [id, us] of self) {
    const node = byId.get(id)!;
    const name = node.callFrame.functionName;
    if (name === '(idle)' || name === '(program)' || name === '(garbage collector)') {
      selfByFunction.set(name, (selfByFunction.get(name) ?? 0) + us);
      selfByPlace.set(name, (selfByPlace.get(name) ?? 0) + us);
      continue;
    }
    const key = label(node.callFrame);
    selfByFunction.set(key, (selfByFunction.get(key) ?? 0) + us);
    const place = where(node.callFrame);
    selfByPlace.set(place, (selfByPlace.get(place) ?? 0) + us);
    // Inclusive time: once per distinct matching function on the stack.
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const frame = byId.get(at)!.callFrame;
      if (!ours(frame.url)) continue;
      const k = label(frame);
      if (seen.has(k)) continue;
      seen.add(k);
      inclusive.set(k, (inclusive.get(k) ?? 0) + us);
    }
  }

  const print = (title: string, map: Map<string, number>) => {
    console.log(`\n${title}`);
    for (const [key, us] of [...map].sort((a, b) => b[1] - a[1]).slice(0, top)) {
      console.log(`${pct(us, total)}  ${(us / 1000).toFixed(1).padStart(9)} ms  ${key}`);
    }
  };
  console.log(`${file}: ${(total / 1000).toFixed(0)} ms sampled`);
  print('self time by function', selfByFunction);
  print('self time by package / file', selfByPlace);
  print(
    `inclusive time of ${match ? `functions whose file matches "${match}"` : 'our functions (dist/, bench/.build/lib/)'}`,
    inclusive,
  );
}

main();
