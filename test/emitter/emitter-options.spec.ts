import {
  Emitter,
  InvalidCollectorUrlError,
  InvalidOptionError,
  LIBRARY_VERSION,
  TRACKER_VERSION,
} from '../../lib/core';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

describe('Emitter options', () => {
  it.each([
    ['a relative URL', '/com.snowplowanalytics.snowplow/tp2', /absolute URL/],
    ['a bare host', 'collector:9090', /http or https/],
    ['an ftp URL', 'ftp://collector/tp2', /http or https, got ftp/],
    ['an empty string', '', /non-empty/],
    ['a number', 9090, /non-empty string/],
    ['undefined', undefined, /non-empty string/],
  ])('rejects %s as collectorUrl', (_case, collectorUrl, message) => {
    expect(() => new Emitter({ collectorUrl: collectorUrl as string })).toThrow(InvalidCollectorUrlError);
    expect(() => new Emitter({ collectorUrl: collectorUrl as string })).toThrow(message);
    expect(() => new Emitter({ collectorUrl: collectorUrl as string })).toThrow('"collectorUrl"');
  });

  it('accepts credentials in the URL but never shows the password', () => {
    const emitter = new Emitter({
      collectorUrl: 'https://user:hunter2@collector.example.com/com.snowplowanalytics.snowplow/tp2',
    });
    expect(emitter.collectorUrl).toBe('https://***:***@collector.example.com/com.snowplowanalytics.snowplow/tp2');
    expect(JSON.stringify(emitter.stats())).not.toContain('hunter2');
  });

  it.each([
    ['batchSize', 0],
    ['batchSize', 1.5],
    ['batchSize', '10'],
    ['capacity', 0],
    ['requestTimeoutMs', -5],
    ['maxConcurrentRequests', 0],
    ['maxBatchBytes', 10],
    ['maxEventBytes', 2_000_000],
    ['maxAttempts', 0],
    ['callback', 'not a function'],
    ['tokenSource', {}],
    ['retryStatusCodes', [99]],
    ['dontRetryStatusCodes', 'all'],
    ['backoff', 5],
    ['backoff.factor', 0.5],
  ])('rejects %s = %p with an error naming it', (option, value) => {
    const [key, sub] = option.split('.');
    const options = { collectorUrl: 'http://127.0.0.1:9/tp2', [key]: sub ? { [sub]: value } : value };
    expect(() => new Emitter(options as never)).toThrow(InvalidOptionError);
    expect(() => new Emitter(options as never)).toThrow(`"${option}"`);
  });

  it('resolves documented defaults', () => {
    const { options } = new Emitter({ collectorUrl: 'http://127.0.0.1:9/com.snowplowanalytics.snowplow/tp2' });
    expect(options).toMatchObject({
      batchSize: 100,
      capacity: 10_000,
      requestTimeoutMs: 5_000,
      maxBatchBytes: 1_000_000,
      maxConcurrentRequests: 4,
      backoff: { baseMs: 100, factor: 2, capMs: 30_000 },
      audience: 'http://127.0.0.1:9',
      exitDrainTimeoutMs: 5_000,
    });
    expect([...options.dontRetry].sort()).toEqual([400, 410, 422]);
  });

  it('keeps the tracker version equal to package.json', () => {
    const pkg = JSON.parse(readFileSync(join(__dirname, '../../package.json'), 'utf8'));
    expect(LIBRARY_VERSION).toBe(pkg.version);
    expect(TRACKER_VERSION).toBe(`nestjs-snowplow-${pkg.version}`);
  });
});

describe('Emitter options: messages, bounds and defaults', () => {
  const URL_ = 'http://127.0.0.1:9/com.snowplowanalytics.snowplow/tp2';
  const ENVELOPE = Buffer.byteLength(
    '{"schema":"iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4","data":[]}',
  );
  const make = (options: Record<string, unknown>) => new Emitter({ collectorUrl: URL_, ...options } as never);
  const refusal = (options: Record<string, unknown>): InvalidOptionError => {
    try {
      make(options);
    } catch (err) {
      expect(err).toBeInstanceOf(InvalidOptionError);
      return err as InvalidOptionError;
    }
    throw new Error(`accepted ${JSON.stringify(options)}`);
  };

  it.each([
    [{ batchSize: 0 }, 'batchSize', 'must be an integer >= 1'],
    [{ capacity: 0 }, 'capacity', 'must be an integer >= 1'],
    [{ billing: { capacity: 0 } }, 'billing.capacity', 'must be an integer >= 1'],
    [{ maxConcurrentRequests: 0 }, 'maxConcurrentRequests', 'must be an integer >= 1'],
    [{ maxBatchSize: 0 }, 'maxBatchSize', 'must be an integer >= 1'],
    [{ requestTimeoutMs: 0 }, 'requestTimeoutMs', 'must be an integer from 1 to 2147483647'],
    [{ requestTimeoutMs: 2_147_483_648 }, 'requestTimeoutMs', 'must be an integer from 1 to 2147483647'],
    [{ lingerMs: -1 }, 'lingerMs', 'must be an integer from 0 to 60000'],
    [{ lingerMs: 60_001 }, 'lingerMs', 'must be an integer from 0 to 60000'],
    [{ maxRetryAfterMs: -1 }, 'maxRetryAfterMs', 'must be an integer from 0 to 2147483647'],
    [{ maxRetryAfterMs: 2_147_483_648 }, 'maxRetryAfterMs', 'must be an integer from 0 to 2147483647'],
    [{ maxAttempts: 0 }, 'maxAttempts', 'must be an integer >= 1'],
    [{ maxEventAgeMs: 0 }, 'maxEventAgeMs', 'must be an integer >= 1'],
    [{ exitDrainTimeoutMs: -1 }, 'exitDrainTimeoutMs', 'must be an integer from 0 to 2147483647'],
    [{ exitDrainTimeoutMs: 1.5 }, 'exitDrainTimeoutMs', 'must be an integer from 0 to 2147483647'],
    [{ exitDrainTimeoutMs: '5000' }, 'exitDrainTimeoutMs', 'must be an integer from 0 to 2147483647'],
    [{ maxEventBytes: 0 }, 'maxEventBytes', 'must be an integer >= 1'],
    [{ backoff: { baseMs: 0.5 } }, 'backoff.baseMs', 'must be a finite number >= 1'],
    [{ backoff: { factor: 0.5 } }, 'backoff.factor', 'must be a finite number >= 1'],
    [{ backoff: { capMs: 0.5 } }, 'backoff.capMs', 'must be a finite number >= 1'],
    [{ backoff: 'fast' }, 'backoff', 'must be an object ({ baseMs?, factor?, capMs? })'],
    [{ billing: 5 }, 'billing', 'must be an object ({ capacity? })'],
    [{ deadLetter: 'dead.jsonl' }, 'deadLetter', 'must be an object ({ path })'],
    [{ audience: 5 }, 'audience', 'must be a string'],
    [{ callback: {} }, 'callback', 'must be a function'],
    [{ tokenSource: { invalidate() {} } }, 'tokenSource', 'must have enhanceHeader()'],
    [{ httpClient: {} }, 'httpClient', 'must have request()'],
    [{ logger: { warn() {} } }, 'logger', 'must have warn, error()'],
    [
      { observer: { eventsEnqueued() {}, requestFinished() {}, eventsSent() {}, eventsDropped() {} } },
      'observer',
      'must have eventsEnqueued, requestFinished, eventsSent, eventsDropped, authFailed()',
    ],
    [{ retryStatusCodes: [99] }, 'retryStatusCodes', ''],
    [{ dontRetryStatusCodes: [600] }, 'dontRetryStatusCodes', ''],
    [{ batchSize: 10, maxBatchSize: 9 }, 'maxBatchSize', 'must be at least batchSize (10)'],
  ])('%p is refused, naming %s', (options, option, reason) => {
    const err = refusal(options);
    expect(err.option).toBe(option);
    expect(err.message).toContain(`Invalid Snowplow option "${option}": ${reason}`);
  });

  it('options that are not an object', () => {
    expect(() => new Emitter(null as never)).toThrow('Invalid Snowplow option "options": must be an object');
    expect(() => new Emitter('http://x' as never)).toThrow('Invalid Snowplow option "options": must be an object');
  });

  it('a token source with a user or a password in collectorUrl is refused', () => {
    const tokenSource = { enhanceHeader: async () => undefined };
    const message =
      'Invalid Snowplow option "tokenSource": cannot be combined with credentials in collectorUrl (both set the Authorization header)';
    expect(() => new Emitter({ collectorUrl: 'http://u:p@127.0.0.1:9/tp2', tokenSource })).toThrow(message);
    expect(() => new Emitter({ collectorUrl: 'http://u@127.0.0.1:9/tp2', tokenSource })).toThrow(message);
    expect(() => new Emitter({ collectorUrl: 'http://:p@127.0.0.1:9/tp2', tokenSource })).toThrow(message);
    expect(new Emitter({ collectorUrl: URL_, tokenSource }).options.tokenSource).toBe(tokenSource);
  });

  it('collectorUrl messages', () => {
    expect(() => new Emitter({ collectorUrl: '   ' })).toThrow(
      'Invalid Snowplow option "collectorUrl": must be a non-empty string (an absolute http or https URL)',
    );
    expect(() => new Emitter({ collectorUrl: 'nope' })).toThrow(
      'Invalid Snowplow option "collectorUrl": is not an absolute URL (expected e.g. http://host:9090/com.snowplowanalytics.snowplow/tp2)',
    );
    expect(() => new Emitter({ collectorUrl: 'ws://h/tp2' })).toThrow(
      /^Invalid Snowplow option "collectorUrl": must use http or https, got ws$/,
    );
    expect(new Emitter({ collectorUrl: 'https://h/x' }).collectorUrl).toBe('https://h/x');
  });

  it.each([
    ['http://h:9090', 'http://h:9090/com.snowplowanalytics.snowplow/tp2'],
    ['http://h:9090/', 'http://h:9090/com.snowplowanalytics.snowplow/tp2'],
    ['http://h:9090/?a=1', 'http://h:9090/?a=***'],
    ['http://h:9090/custom', 'http://h:9090/custom'],
  ])('collectorUrl %s is used with its default path and shown as %s', (given, used) => {
    expect(new Emitter({ collectorUrl: given }).collectorUrl).toBe(used);
  });

  it('the bounds themselves are accepted', () => {
    const low = make({
      batchSize: 1,
      maxBatchSize: 1,
      capacity: 1,
      billing: { capacity: 1 },
      requestTimeoutMs: 1,
      maxConcurrentRequests: 1,
      lingerMs: 0,
      maxRetryAfterMs: 0,
      maxAttempts: 1,
      maxEventAgeMs: 1,
      maxBatchBytes: ENVELOPE + 64,
      maxEventBytes: 64,
      backoff: { baseMs: 1, factor: 1, capMs: 1 },
    }).options;
    expect(low).toMatchObject({
      batchSize: 1,
      maxBatchSize: 1,
      capacity: 1,
      billingCapacity: 1,
      requestTimeoutMs: 1,
      maxConcurrentRequests: 1,
      lingerMs: 0,
      maxRetryAfterMs: 0,
      maxAttempts: 1,
      maxEventAgeMs: 1,
      maxBatchBytes: ENVELOPE + 64,
      maxEventBytes: 64,
      backoff: { baseMs: 1, factor: 1, capMs: 1 },
    });
    const high = make({ requestTimeoutMs: 2_147_483_647, lingerMs: 60_000, maxRetryAfterMs: 2_147_483_647 }).options;
    expect(high).toMatchObject({ requestTimeoutMs: 2_147_483_647, lingerMs: 60_000, maxRetryAfterMs: 2_147_483_647 });
    expect(refusal({ maxBatchBytes: ENVELOPE + 63 }).message).toContain(`must be an integer >= ${ENVELOPE + 64}`);
  });

  it('maxEventBytes: at most maxBatchBytes minus the envelope, which is its default', () => {
    expect(make({ maxBatchBytes: 10_000 }).options.maxEventBytes).toBe(10_000 - ENVELOPE);
    expect(make({}).options.maxEventBytes).toBe(1_000_000 - ENVELOPE);
    expect(make({ maxBatchBytes: 10_000, maxEventBytes: 10_000 - ENVELOPE }).options.maxEventBytes).toBe(
      10_000 - ENVELOPE,
    );
    expect(refusal({ maxBatchBytes: 10_000, maxEventBytes: 10_001 - ENVELOPE }).message).toBe(
      `Invalid Snowplow option "maxEventBytes": must be at most maxBatchBytes minus the ${ENVELOPE}-byte envelope (${
        10_000 - ENVELOPE
      })`,
    );
  });

  it('defaults of the rest', () => {
    const { options } = make({});
    expect(options).toMatchObject({
      maxBatchSize: 1_000,
      billingCapacity: 10_000,
      lingerMs: 20,
      maxRetryAfterMs: 300_000,
    });
    expect(options.maxAttempts).toBeUndefined();
    expect(options.maxEventAgeMs).toBeUndefined();
    expect(make({ batchSize: 2_000 }).options.maxBatchSize).toBe(2_000);
    expect(make({ batchSize: 10, maxBatchSize: 10 }).options.maxBatchSize).toBe(10);
    expect(make({ audience: 'my-aud' }).options.audience).toBe('my-aud');
    expect(make({ backoff: { capMs: 1e12 } }).options.backoff.capMs).toBe(2_147_483_647);
    expect(make({ backoff: { capMs: 5_000 } }).options.backoff).toEqual({ baseMs: 100, factor: 2, capMs: 5_000 });
  });

  it('retryStatusCodes take codes out of the never-retried set', () => {
    expect([...make({ retryStatusCodes: [400, 503] }).options.dontRetry].sort()).toEqual([410, 422]);
    expect([...make({ dontRetryStatusCodes: [418, 500], retryStatusCodes: [500] }).options.dontRetry]).toEqual([418]);
    expect([...make({ dontRetryStatusCodes: [] }).options.dontRetry]).toEqual([]);
  });
});
