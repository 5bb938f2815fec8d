import { existsSync, readFileSync } from 'node:fs';

/**
 * Reads a SQLite WAL file (https://sqlite.org/fileformat.html#the_write_ahead_log): how many valid
 * frames it holds and how many of them end a transaction (commit frames). A frame is valid when
 * its salts match the header's; frames left from before the WAL was restarted do not count.
 */
export function walFrames(walPath: string): { frames: number; commits: number; checkpointSeq: number } {
  if (!existsSync(walPath)) return { frames: 0, commits: 0, checkpointSeq: 0 };
  const wal = readFileSync(walPath);
  if (wal.length < 32) return { frames: 0, commits: 0, checkpointSeq: 0 };
  const pageSize = wal.readUInt32BE(8);
  const checkpointSeq = wal.readUInt32BE(12);
  const salt1 = wal.readUInt32BE(16);
  const salt2 = wal.readUInt32BE(20);
  let frames = 0;
  let commits = 0;
  for (let offset = 32; offset + 24 + pageSize <= wal.length; offset += 24 + pageSize) {
    if (wal.readUInt32BE(offset + 8) !== salt1 || wal.readUInt32BE(offset + 12) !== salt2) break;
    frames++;
    if (wal.readUInt32BE(offset + 4) !== 0) commits++;
  }
  return { frames, commits, checkpointSeq };
}
