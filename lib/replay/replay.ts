import { closeSync, readSync } from 'node:fs';
import { resolve } from 'node:path';
import axios from 'axios';
import type { TokenSource } from '../auth/token-source.interface';
import { ENVELOPE_BYTES } from '../emitter/batch-body';
import { CollectorClient } from '../emitter/collector-client';
import { DEFAULT_MAX_BATCH_BYTES, DEFAULT_REQUEST_TIMEOUT_MS, parseCollectorUrl } from '../emitter/emitter-options';
import type { EmitterLogger } from '../emitter/send-result';
import { InvalidOptionError } from '../errors';
import { bodyBytes } from '../tracker/payload';
import { MAX_TIMER_MS } from '../utils/timers';
import { checkInteger, checkMethods } from '../validation';
import { errorMessage, openFile, removeLeftoverTemps, rewriteWithout, safeLog, statFile } from './files';
import { ReplayJournal } from './journal';
import { surveyFile } from './survey';
import { lineKey, parseRecord, quickEid, readLines, toEvent } from './lines';
import { ReplayReport } from './report';
import { ReplayItem, ReplaySender } from './sender';

/** Options of `replayDeadLetters(file, options)`. */
export interface ReplayDeadLettersOptions {
  /** The collector's full tp2 endpoint. Credentials in it are sent as Basic auth and never printed. */
  collectorUrl: string;
  /** Adds `Authorization` to each request, as for the emitter. */
  tokenSource?: TokenSource;
  /** How long to keep sending before giving up on what is left, ms. Default 60,000. */
  timeoutMs?: number;
  /** Requests in flight at once, 1 to 64. Default 8. */
  concurrency?: number;
  /**
   * Most events per request, 1 to 1,000. Default 100. A batch the collector refuses is halved until
   * the events it refuses stand alone, so one refused event never holds back the others.
   */
  batchSize?: number;
  /** Receives the replay's warnings and errors. Default: console, prefixed `[nestjs-snowplow]`. */
  logger?: EmitterLogger;
}

/** What a replay did, in non-blank lines of the file. */
export interface ReplayDeadLettersResult {
  /** Non-blank lines read. */
  total: number;
  /** Lines removed because the collector accepted their event (2xx), in this run or in an interrupted one. */
  delivered: number;
  /** Non-blank lines the file holds afterwards: all of the kinds below, and any appended meanwhile. */
  remaining: number;
  /** Lines read that are not dead-letter records; kept as they are. */
  invalid: number;
  /** Lines the collector refused for good (400, 410, 413, 422) or too large to send; kept. */
  refused: number;
  /** Lines kept because other lines with their eid hold a different event; none of them was sent. */
  conflicts: number;
  /** Records not delivered before the timeout (an outage, or not reached); kept, for a later run. */
  unsent: number;
  /** Lines appended to the file while the replay ran; kept, not sent. */
  appended: number;
  /** Of `delivered`, lines the journal of an interrupted replay named as delivered: not sent again. */
  resumed: number;
}

export const DEFAULT_REPLAY_TIMEOUT_MS = 60_000;
export const DEFAULT_REPLAY_CONCURRENCY = 8;
export const DEFAULT_REPLAY_BATCH_SIZE = 100;

const consoleLogger: EmitterLogger = {
  warn: (message) => console.warn(`[nestjs-snowplow] ${message}`),
  error: (message) => console.error(`[nestjs-snowplow] ${message}`),
};

/**
 * Sends every dead-letter record of `file` again, with its original `eid`, `dtm` and payload (and
 * a fresh `stm`), then rewrites the file atomically without the lines the collector accepted.
 *
 * The file is streamed 128 KB at a time, and at most `concurrency × batchSize + batchSize` events
 * are held in memory (a line waiting for a retry keeps only its offset, and is read again): memory
 * does not grow with the file, but for ~100 bytes per line of indexes (the eids, while the file is
 * first read, to find lines sharing one; the offsets of the lines delivered). No capacity applies:
 * every line is sent or kept. Events go in batches of up to `batchSize`, `concurrency` requests at a
 * time; a batch the collector answers with a 4xx or 5xx is
 * halved at once until the failing events stand alone, and only those wait for their own backoff
 * (or are refused for good on a 400, 410, 413 or 422) while the others go on. A batch with no answer
 * (an outage) waits as a whole, with its own backoff. Sending stops after `timeoutMs`.
 *
 * Each delivered line is appended to a sidecar journal, `<file>.replay-journal` (0600, fsynced every
 * 1,000 lines or 200 ms), as soon as its answer arrives; a replay killed even with `kill -9` is
 * resumed by the next one, which skips the lines the journal names (when their bytes match) and
 * sends at most the batches that were in flight again. At the end the file is rewritten once, via
 * `<file>.<pid>.tmp` (mode 0600: fsync, rename, fsync of the directory), and the journal deleted. A
 * `<file>.<pid>.tmp` left by a killed replay whose pid no longer runs is removed at the start.
 *
 * Lines that share an eid are sent once and removed together when they hold the same event; when
 * they hold different events, all are kept, none is sent, and the conflict is logged. Lines that
 * are not records are kept untouched; lines appended while the replay runs are kept. Run it on a
 * file no running process is writing to, and one replay per file at a time.
 *
 * Throws `InvalidOptionError` for bad options and `StorageError` (naming the file at fault) when the
 * file or its journal cannot be read, written or synced, the journal's path is a symbolic link, or
 * the file changed during the replay other than by appending. The file is then left as it is, every
 * line still in it, with its journal, so the next replay skips what the journal names; a journal
 * failing mid-replay stops the sending at once.
 */
export async function replayDeadLetters(
  file: string,
  options: ReplayDeadLettersOptions,
): Promise<ReplayDeadLettersResult> {
  if (typeof file !== 'string' || file.trim() === '') {
    throw new InvalidOptionError('file', 'must be a non-empty string (the dead-letter file)');
  }
  if (options === null || typeof options !== 'object') throw new InvalidOptionError('options', 'must be an object');
  const url = parseCollectorUrl(options.collectorUrl);
  checkMethods('tokenSource', options.tokenSource, ['enhanceHeader']);
  checkMethods('logger', options.logger, ['warn', 'error']);
  if (options.tokenSource && (url.username || url.password)) {
    throw new InvalidOptionError(
      'tokenSource',
      'cannot be combined with credentials in collectorUrl (both set the Authorization header)',
    );
  }
  const range = { min: 1, max: MAX_TIMER_MS };
  const timeoutMs = checkInteger('timeoutMs', options.timeoutMs, range, DEFAULT_REPLAY_TIMEOUT_MS);
  const concurrency = checkInteger('concurrency', options.concurrency, { min: 1, max: 64 }, DEFAULT_REPLAY_CONCURRENCY);
  const batchSize = checkInteger('batchSize', options.batchSize, { min: 1, max: 1_000 }, DEFAULT_REPLAY_BATCH_SIZE);
  const deadline = Date.now() + timeoutMs;
  const path = resolve(file);
  const logger = options.logger ?? consoleLogger;
  const report = new ReplayReport(file, logger);

  removeLeftoverTemps(path, logger);
  const { size: readSize, dev, ino } = statFile(path);
  const journal = ReplayJournal.open(path, { dev, ino }, (reason) => safeLog(() => logger.warn(reason)));
  let result: ReplayDeadLettersResult;
  try {
    const survey = await surveyFile(path, readSize, journal, report);
    const client = new CollectorClient({
      url,
      http: axios.create(),
      maxSockets: concurrency,
      timeoutMs: DEFAULT_REQUEST_TIMEOUT_MS,
      tokenSource: options.tokenSource,
      audience: url.origin,
    });
    const fd = openFile(path);
    const sender = new ReplaySender({
      client,
      tokenSource: options.tokenSource,
      concurrency,
      batchSize,
      maxBatchBytes: DEFAULT_MAX_BATCH_BYTES,
      deadline,
      journal,
      report,
      reload: (item) => reloadLine(fd, item),
    });
    let tooLarge = 0;
    let invalid = 0;
    let reachedAll = true;
    try {
      for await (const { offset, lineNo, bytes } of readLines(path, readSize)) {
        const key = lineKey(bytes);
        if (journal.has(offset, key)) continue;
        const record = parseRecord(bytes);
        const quick = quickEid(bytes);
        // Two "eid" keys: the first read of the file went by the first, JSON.parse by the last.
        const why =
          typeof record === 'string'
            ? record
            : quick !== undefined && quick !== record.eid
              ? 'a record with two eids'
              : undefined;
        if (why !== undefined || typeof record === 'string') {
          invalid++;
          report.invalid(lineNo, why ?? 'not a dead-letter record');
          continue;
        }
        // Past the deadline the rest of the file is only read to count what stays in it.
        if (sender.stopped) {
          reachedAll = false;
          continue;
        }
        const { eid, json } = toEvent(record);
        const group = survey.groups.get(eid);
        // A conflict is kept whole; the other lines of an eid go with its first line.
        if (group && (group.conflict || group.lines[0].offset !== offset)) continue;
        const followers = group ? group.lines.slice(1).map((line) => ({ offset: line.offset, key: line.key })) : [];
        const size = bodyBytes(json);
        if (size > DEFAULT_MAX_BATCH_BYTES - ENVELOPE_BYTES) {
          tooLarge += 1 + followers.length;
          report.refused(lineNo, eid, `it is ${size} bytes, larger than a request may be`);
          continue;
        }
        await sender.add({ offset, key, lineNo, eid, json, bytes: size, followers, failures: 0 });
      }
      await sender.finish();
    } finally {
      // Also when reading the file failed: nothing goes on sending behind the caller's back.
      sender.stop();
      closeSync(fd);
      client.close();
    }
    if (sender.journalError !== undefined) {
      // Progress can no longer be saved: the file is left as it is (with its journal) rather than rewritten.
      safeLog(() =>
        logger.error(
          `the replay stopped: ${errorMessage(sender.journalError)}; ${file} is left as it is, every line still ` +
            'in it: run the replay again once the journal can be written (the lines its journal could not keep ' +
            'are sent again, with the same eids)',
        ),
      );
      throw sender.journalError;
    }
    journal.sync();
    const deliverable = survey.total - invalid - survey.conflicts - survey.resumed;
    const unsent = deliverable - sender.delivered - sender.refused - sender.changed - tooLarge;
    report.unsent(unsent, reachedAll);
    const counts = {
      total: survey.total,
      invalid,
      refused: sender.refused + tooLarge,
      conflicts: survey.conflicts,
      unsent: unsent + sender.changed,
      resumed: survey.resumed,
    };
    result = await fold(path, readSize, survey.prefixHash, journal, logger, counts);
  } catch (err) {
    journal.close(false);
    throw err;
  }
  journal.close(true);
  return result;
}

/** Rewrites the file without the delivered lines (once, at the end), or leaves it as it is when there are none. */
async function fold(
  path: string,
  readSize: number,
  prefixHash: string,
  journal: ReplayJournal,
  logger: EmitterLogger,
  counts: Omit<ReplayDeadLettersResult, 'delivered' | 'remaining' | 'appended'>,
): Promise<ReplayDeadLettersResult> {
  if (journal.delivered.size === 0) {
    let remaining = 0;
    let appended = 0;
    for await (const { offset } of readLines(path)) {
      remaining++;
      if (offset >= readSize) appended++;
    }
    return { ...counts, delivered: 0, remaining, appended };
  }
  const summary = `${journal.delivered.size} of its ${counts.total} lines were delivered`;
  const done = await rewriteWithout(
    path,
    readSize,
    prefixHash,
    (offset, key) => journal.has(offset, key),
    summary,
    logger,
  );
  return { ...counts, delivered: done.removed, remaining: done.remaining, appended: done.appended };
}

/** The payload text of a line waiting for a retry, read from the file again; undefined when its bytes changed. */
function reloadLine(fd: number, item: ReplayItem): string | undefined {
  const length = Number(item.key.slice(0, item.key.indexOf(':')));
  const bytes = Buffer.alloc(length);
  try {
    if (readSync(fd, bytes, 0, length, item.offset) !== length || lineKey(bytes) !== item.key) return undefined;
  } catch {
    return undefined;
  }
  const record = parseRecord(bytes);
  return typeof record === 'string' ? undefined : toEvent(record).json;
}
