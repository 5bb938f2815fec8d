import { Logger } from '@nestjs/common';
import { InvalidEventError } from '../errors';
import { checkSubject, Subject } from '../tracker/subject';
import { describeType } from '../utils';
import type { SnowplowRequestContext } from './request-context';
import type { SnowplowInstance } from './snowplow-instance';
import type { TrackErrorSink } from './track-error-sink';

/** The module's `subject` option: subject fields from the request a track call runs for. */
export type RequestSubjectSource = (context: SnowplowRequestContext) => Subject | undefined | null;

/**
 * The tracker's `contextSubject` for the module's `subject` option: the current request's subject,
 * computed on its first event and kept for the others. The request is the client's: a field the
 * protocol refuses (a 2,000-character User-Agent, say) is left out of the subject, never made the
 * track call's failure, and so is everything when the function throws or returns no object. Each
 * such failure is counted in `snowplow_track_errors_total{source="subject",kind="custom"}`; the
 * first is logged (the field and why, never its value).
 */
export function requestSubject(
  source: RequestSubjectSource,
  trackErrors: TrackErrorSink,
  instance: Pick<SnowplowInstance, 'logContext' | 'requests'>,
): () => Subject | undefined {
  const subjects = new WeakMap<SnowplowRequestContext, Subject | null>();
  const logger = new Logger(instance.logContext);
  let logged = false;
  const report = (reason: string): void => {
    try {
      trackErrors.trackError('subject', 'custom');
      if (logged) return;
      logged = true;
      logger.warn(
        `the subject option gave no usable ${reason}: the request's events are sent without it. ` +
          'Logged once; every failure is counted in track_errors_total{source="subject"}',
      );
    } catch {
      // Reporting must never fail a track call.
    }
  };
  const compute = (context: SnowplowRequestContext): Subject | null => {
    let given: unknown;
    try {
      given = source(context);
    } catch (err) {
      report(`subject (it threw ${err instanceof Error ? err.name : describeType(err)})`);
      return null;
    }
    if (given === undefined || given === null) return null;
    if (typeof given !== 'object' || Array.isArray(given)) {
      report(`subject (it returned ${describeType(given)}, not an object of subject fields)`);
      return null;
    }
    const kept: Record<string, unknown> = {};
    for (const [field, value] of Object.entries(given)) {
      try {
        checkSubject('subject', { [field]: value });
        kept[field] = value;
      } catch (err) {
        report(err instanceof InvalidEventError ? `"${err.field}" (${err.reason})` : `"subject.${field}"`);
      }
    }
    return kept;
  };
  return () => {
    const context = instance.requests.current();
    if (context === undefined) return undefined;
    let subject = subjects.get(context);
    if (subject === undefined) {
      subject = compute(context);
      subjects.set(context, subject);
    }
    return subject ?? undefined;
  };
}
