import { EmitterLog } from './emitter-log';

/** Correlation ids the tracker dropped so a billing event fits `maxEventBytes`: the first is logged. */
export class CorrelationIdDrops {
  private logged = false;

  constructor(
    private readonly log: EmitterLog,
    private readonly maxEventBytes: number,
  ) {}

  /** One billing event `eid` went out without its correlation id of `length` characters. */
  dropped(eid: string, length: number): void {
    if (this.logged) return;
    this.logged = true;
    this.log.warn(
      `billing event ${eid} was sent without its correlation id (${length} characters), which would have made it ` +
        `larger than maxEventBytes (${this.maxEventBytes}). Logged once; the metrics count every one ` +
        '(correlation_ids_rejected_total{reason="event_too_large"})',
    );
  }
}
