/** What a bench report says about the run itself: the machine, the checkout, the load. */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';

export function cpuModel(): string {
  try {
    const line = readFileSync('/proc/cpuinfo', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('model name'));
    return line ? line.split(':').slice(1).join(':').trim() : 'unknown';
  } catch {
    return 'unknown';
  }
}

/** The checkout the bench ran from: short commit, and the files that differ from it (dirty tree). */
export function gitState(): { commit: string; dirty: string[] } {
  const git = (...args: string[]) =>
    execFileSync('git', args, {
      cwd: join(__dirname, '..', '..'),
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    });
  try {
    const commit = git('rev-parse', '--short', 'HEAD').trim();
    const dirty = git('status', '--porcelain', '--untracked-files=no')
      .split('\n')
      .filter((line) => line.trim() !== '')
      .map((line) => line.slice(3));
    return { commit, dirty };
  } catch {
    return { commit: 'unknown (not a git checkout)', dirty: [] };
  }
}

export function describeGit({ commit, dirty }: { commit: string; dirty: string[] }): string {
  if (dirty.length === 0) return `commit \`${commit}\` (clean tree)`;
  const shown = dirty.slice(0, 5).map((f) => `\`${f}\``);
  const more = dirty.length > shown.length ? ` and ${dirty.length - shown.length} more` : '';
  return `commit \`${commit}\` + **uncommitted changes** (${shown.join(', ')}${more})`;
}

/** The 1, 5 and 15 minute load averages. */
export function load(): string {
  return loadavg()
    .map((l) => l.toFixed(2))
    .join(' / ');
}

export function gib(bytes: number): string {
  return `${(bytes / 1024 ** 3).toFixed(1)} GiB`;
}
