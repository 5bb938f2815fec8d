import { closeSync, readSync } from 'node:fs';
import { openFile, prefixHasher } from './files';
import type { JournalEntry, ReplayJournal } from './journal';
import { fingerprint, lineKey, parseRecord, quickEid, readLines } from './lines';
import type { ReplayReport } from './report';

/** Lines of one eid (the eids on more than one line only). */
export interface EidGroup {
  /** Every line of the eid holds the same event? Otherwise none is sent. */
  conflict: boolean;
  lines: (JournalEntry & { lineNo: number })[];
}

/** What the first read of the file found. */
export interface Survey {
  total: number;
  conflicts: number;
  /** Lines the journal already names as delivered. */
  resumed: number;
  groups: Map<string, EidGroup>;
  prefixHash: string;
}

/**
 * The first read of the file: counts its lines and those its journal names as delivered, finds the
 * eids on more than one line (a conflict when they hold different events), and hashes the bytes, so
 * the final rewrite can tell whether they changed. Lines that are not records are reported by the
 * second read, which parses every line anyway.
 */
export async function surveyFile(
  path: string,
  readSize: number,
  journal: ReplayJournal,
  report: ReplayReport,
): Promise<Survey> {
  const survey: Survey = { total: 0, conflicts: 0, resumed: 0, groups: new Map(), prefixHash: '' };
  const hasher = prefixHasher(readSize);
  // The first line of each eid; its key and event are worked out only should the eid come again.
  const seen = new Map<string, { offset: number; lineNo: number }>();
  const fingerprints = new Map<string, string>();
  const checkJournal = journal.delivered.size > 0;
  const fd = openFile(path);
  try {
    for await (const { offset, lineNo, bytes } of readLines(path, readSize, hasher.update)) {
      survey.total++;
      if (checkJournal && journal.has(offset, lineKey(bytes))) survey.resumed++;
      let eid = quickEid(bytes);
      if (eid === undefined) {
        const record = parseRecord(bytes);
        // Not a record: the second read reports it.
        if (typeof record === 'string') continue;
        eid = record.eid;
      }
      const first = seen.get(eid);
      if (!first) {
        seen.set(eid, { offset, lineNo });
        continue;
      }
      // The eid again: only now are its lines parsed, and only records belong to its group.
      const record = parseRecord(bytes);
      if (typeof record === 'string' || record.eid !== eid) continue;
      let group = survey.groups.get(eid);
      if (!group) {
        const firstBytes = readLineAt(fd, first.offset);
        const firstRecord = parseRecord(firstBytes);
        if (typeof firstRecord === 'string' || firstRecord.eid !== eid) {
          seen.set(eid, { offset, lineNo });
          continue;
        }
        group = { conflict: false, lines: [{ ...first, key: lineKey(firstBytes) }] };
        survey.groups.set(eid, group);
        fingerprints.set(eid, fingerprint(firstRecord));
      }
      group.lines.push({ offset, lineNo, key: lineKey(bytes) });
      if (fingerprint(record) !== fingerprints.get(eid)) group.conflict = true;
    }
  } finally {
    closeSync(fd);
  }
  survey.prefixHash = hasher.digest();
  for (const [eid, group] of survey.groups) {
    if (group.conflict) {
      const kept = group.lines.filter((line) => !journal.has(line.offset, line.key));
      survey.conflicts += kept.length;
      report.conflict(
        eid,
        group.lines.map((line) => line.lineNo),
      );
      continue;
    }
    // One line of the event was delivered (by a run killed before it noted the others): all were.
    const missing = group.lines.filter((line) => !journal.has(line.offset, line.key));
    if (missing.length > 0 && missing.length < group.lines.length) {
      journal.record(missing.map(({ offset, key }) => ({ offset, key })));
      survey.resumed += missing.length;
    }
  }
  return survey;
}

/** The line starting at `offset`, read again (the duplicates of an eid are rare). */
function readLineAt(fd: number, offset: number): Buffer {
  const parts: Buffer[] = [];
  const chunk = Buffer.alloc(64 * 1024);
  for (let position = offset; ;) {
    const read = readSync(fd, chunk, 0, chunk.length, position);
    const end = chunk.subarray(0, read).indexOf(0x0a);
    if (end !== -1 || read === 0) {
      parts.push(Buffer.from(chunk.subarray(0, end === -1 ? read : end)));
      return Buffer.concat(parts);
    }
    parts.push(Buffer.from(chunk.subarray(0, read)));
    position += read;
  }
}
