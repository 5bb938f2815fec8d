// A real full disk for the outbox tests: a small tmpfs mounted on a directory (the tests run as
// root in CI). Where mount is refused, the test fails with a message saying so; it never skips.
import { spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Mounts a tmpfs of `size` (e.g. `300k`) on a new directory and returns it; `inodes` caps the files
 * it can hold (its root directory counts as one), for a disk that runs out of files before bytes.
 */
export function mountTmpfs(size = '300k', inodes?: number): string {
  const dir = mkdtempSync(join(tmpdir(), 'snowplow-full-disk-'));
  const options = `size=${size},mode=0700${inodes === undefined ? '' : `,nr_inodes=${inodes}`}`;
  const result = spawnSync('mount', ['-t', 'tmpfs', '-o', options, 'tmpfs', dir], {
    encoding: 'utf8',
  });
  if (result.status !== 0) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(
      `This test needs a real full disk: \`mount -t tmpfs -o ${options} tmpfs ${dir}\` was refused ` +
        `(${(result.stderr || result.error?.message || `exit ${result.status}`).trim()}). ` +
        'Run the tests as root (CI does), or in a container allowed to mount tmpfs.',
    );
  }
  return dir;
}

/** Makes a file system of `mountTmpfs` read-only (writes then fail with EROFS, for root too). */
export function remountReadOnly(dir: string): void {
  const result = spawnSync('mount', ['-o', 'remount,ro', dir], { encoding: 'utf8' });
  if (result.status !== 0) {
    throw new Error(
      `\`mount -o remount,ro ${dir}\` was refused (${(result.stderr || `exit ${result.status}`).trim()})`,
    );
  }
}

/** Unmounts and removes a directory of `mountTmpfs`. */
export function unmountTmpfs(dir: string | undefined): void {
  if (dir === undefined) return;
  // A child killed a moment ago may still hold a file there: then detach it lazily.
  if (spawnSync('umount', [dir]).status !== 0) spawnSync('umount', ['-l', dir]);
  rmSync(dir, { recursive: true, force: true });
}

/** Creates empty files under `dir` until its file system has no inode left; delete `dir` to free them. */
export function fillInodes(dir: string): void {
  for (let n = 0; ; n++) {
    try {
      closeSync(openSync(join(dir, `file-${n}`), 'wx'));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOSPC') return;
      throw err;
    }
  }
}

/** Fills the file system of `dir` to the last byte with a file of its own; returns its path (delete it to free it). */
export function fillDisk(dir: string): string {
  const filler = join(dir, 'filler');
  const fd = openSync(filler, 'w');
  const chunk = Buffer.alloc(4096, 1);
  try {
    for (let size = chunk.length; size >= 1;) {
      try {
        writeSync(fd, chunk, 0, size);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
        size = Math.floor(size / 2);
      }
    }
  } finally {
    closeSync(fd);
  }
  return filler;
}
