import type { EmitterLogger } from '../emitter/send-result';
import { safeLog } from './files';

/** Lines of one kind listed one by one; past this, they are counted in the summary only. */
export const LISTED_PER_KIND = 20;

/** Kinds of line a replay keeps in the file, each with its own advice. */
export type KeptKind = 'invalid' | 'refused' | 'conflict' | 'changed';

const TAIL: Record<KeptKind, string> = {
  invalid:
    'is not sent and stays in the file as it is: inspect it, then fix or remove it (a replay never sends it as it is)',
  refused:
    'stays in the file: the collector will not take this event as it is, so running the replay again will not help; ' +
    'inspect the line, then fix or remove it',
  conflict: '', // worded in `conflict()`
  changed: 'changed while the replay ran; it stays in the file as it is now: replay only files no process is rewriting',
};

/**
 * What a replay says about the file's lines. Every message says what happens to a line (it stays
 * in the file, or it was delivered and removed), never that anything was dropped, and the advice
 * fits the cause: run again later after an outage; inspect and fix a line the collector refused or
 * that is not a record. At most `LISTED_PER_KIND` lines of a kind are listed one by one.
 */
export class ReplayReport {
  private readonly listed = new Map<KeptKind, number>();
  /** Failures that are retried, by cause ("HTTP 503", "ECONNREFUSED"): how many requests got each. */
  readonly failures = new Map<string, number>();

  constructor(
    private readonly file: string,
    private readonly logger: EmitterLogger,
  ) {}

  /** A line that is not a dead-letter record. */
  invalid(lineNo: number, why: string): void {
    this.list('invalid', `line ${lineNo} of ${this.file} is ${why}; it ${TAIL.invalid}`);
  }

  /** A line the collector refused for good (400, 410, 422, 413), or one too large to send at all. */
  refused(lineNo: number, eid: string, cause: string): void {
    this.list('refused', `line ${lineNo} of ${this.file} (eid ${eid}) was refused: ${cause}; it ${TAIL.refused}`);
  }

  /** Lines of one eid holding different events: all kept, none sent. */
  conflict(eid: string, lineNos: readonly number[]): void {
    const lines = lineNos.length > 5 ? `${lineNos.slice(0, 5).join(', ')}, ...` : lineNos.join(', ');
    this.list(
      'conflict',
      `lines ${lines} of ${this.file} share eid ${eid} but hold different events; all ${lineNos.length} stay in ` +
        'the file and none was sent (the collector would see two events under one eid): keep the right line, ' +
        'remove the others, and run the replay again',
    );
  }

  /** A line held back for a retry whose bytes changed meanwhile. */
  changed(lineNo: number, eid: string): void {
    this.list('changed', `line ${lineNo} of ${this.file} (eid ${eid}) ${TAIL.changed}`);
  }

  /**
   * A request that failed and will be retried: logged once per cause, as a warning, since only
   * its events wait and the replay goes on with the other lines.
   */
  failure(cause: string, lines: number, hint: string): void {
    const seen = this.failures.get(cause) ?? 0;
    this.failures.set(cause, seen + 1);
    if (seen > 0) return;
    const what = lines === 1 ? '1 line' : `${lines} lines`;
    safeLog(() =>
      this.logger.warn(
        `${cause} for a request of ${what} of ${this.file}${hint}; they stay in the file and are retried with ` +
          'backoff while the other lines go on (further failures of this kind are counted, not listed)',
      ),
    );
  }

  /** The closing line about deliverable lines not delivered by the deadline. */
  unsent(count: number, reachedAll: boolean): void {
    if (count === 0) return;
    const causes = [...this.failures].map(([cause, times]) => `${cause} ×${times}`).join(', ');
    const why = causes
      ? `last failures: ${causes}`
      : reachedAll
        ? 'their requests were still in flight'
        : 'in flight or not sent yet';
    const lines = count === 1 ? '1 line was' : `${count} lines were`;
    safeLog(() =>
      this.logger.error(
        `${lines} not delivered before the timeout (${why}); they stay in ${this.file}: run the replay again ` +
          'later, once the collector accepts them (or with a longer timeout)',
      ),
    );
  }

  private list(kind: KeptKind, message: string): void {
    const count = (this.listed.get(kind) ?? 0) + 1;
    this.listed.set(kind, count);
    if (count <= LISTED_PER_KIND) safeLog(() => this.logger.error(message));
    else if (count === LISTED_PER_KIND + 1) {
      safeLog(() =>
        this.logger.error(`more lines of ${this.file} like the ones above; they are counted in the summary`),
      );
    }
  }
}
