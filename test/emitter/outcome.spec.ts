import { classifyOutcome, Verdict } from '../../lib/emitter/outcome';
import { DEFAULT_DONT_RETRY_STATUS_CODES } from '../../lib/emitter/emitter-options';

const defaults = { dontRetry: new Set(DEFAULT_DONT_RETRY_STATUS_CODES) };

describe('classifyOutcome: the collector answer decides the batch, for data safety', () => {
  const table: Array<[string, number, number, Verdict]> = [
    ['200 delivers', 200, 100, { action: 'deliver' }],
    ['204 delivers', 204, 1, { action: 'deliver' }],
    ['299 delivers', 299, 5, { action: 'deliver' }],
    ['302 is a failure, retried with a redirect hint', 302, 100, { action: 'retry', hint: 'redirect' }],
    ['301 likewise', 301, 1, { action: 'retry', hint: 'redirect' }],
    ['304 likewise (never a success)', 304, 1, { action: 'retry', hint: 'redirect' }],
    ['413 on a batch splits it', 413, 2, { action: 'split' }],
    ['413 on one event dead-letters it as too large', 413, 1, { action: 'dead-letter', reason: 'too_large' }],
    ['400 on a batch splits it', 400, 300, { action: 'split' }],
    ['400 on one event dead-letters it as rejected', 400, 1, { action: 'dead-letter', reason: 'rejected' }],
    ['422 on a batch splits it', 422, 3, { action: 'split' }],
    ['422 on one event dead-letters it', 422, 1, { action: 'dead-letter', reason: 'rejected' }],
    ['410 dead-letters the whole batch (not bisected)', 410, 50, { action: 'dead-letter', reason: 'rejected' }],
    ['401 is retried (after the token refresh) with an auth hint', 401, 100, { action: 'retry', hint: 'auth' }],
    ['403 likewise', 403, 1, { action: 'retry', hint: 'auth' }],
    ['404 is retried with a path hint', 404, 10, { action: 'retry', hint: 'not_found' }],
    ['429 is retried', 429, 10, { action: 'retry' }],
    ['500 is retried', 500, 10, { action: 'retry' }],
    ['503 is retried', 503, 1, { action: 'retry' }],
    ['a local error (-1) is retried', -1, 100, { action: 'retry' }],
    ['an unknown 1xx is retried', 101, 1, { action: 'retry' }],
  ];

  it.each(table)('%s', (_name, status, size, verdict) => {
    expect(classifyOutcome(status, size, defaults)).toEqual(verdict);
  });

  it('dontRetryStatusCodes decides what is never retried; 400 and 422 are bisected only when listed', () => {
    const none = { dontRetry: new Set<number>() };
    expect(classifyOutcome(400, 10, none)).toEqual({ action: 'retry' });
    expect(classifyOutcome(422, 1, none)).toEqual({ action: 'retry' });
    const withAuth = { dontRetry: new Set([401, 500]) };
    expect(classifyOutcome(401, 10, withAuth)).toEqual({ action: 'dead-letter', reason: 'rejected' });
    expect(classifyOutcome(500, 10, withAuth)).toEqual({ action: 'dead-letter', reason: 'rejected' });
    expect(classifyOutcome(-1, 10, { dontRetry: new Set([-1]) })).toEqual({ action: 'retry' });
  });

  it('413 always splits or dead-letters, whatever the lists say', () => {
    expect(classifyOutcome(413, 4, { dontRetry: new Set() })).toEqual({ action: 'split' });
    expect(classifyOutcome(413, 1, { dontRetry: new Set() })).toEqual({ action: 'dead-letter', reason: 'too_large' });
  });
});
