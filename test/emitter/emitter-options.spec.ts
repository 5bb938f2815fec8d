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
    expect(emitter.collectorUrl).toBe('https://user:***@collector.example.com/com.snowplowanalytics.snowplow/tp2');
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
    });
    expect([...options.dontRetry].sort()).toEqual([400, 410, 422]);
  });

  it('keeps the tracker version equal to package.json', () => {
    const pkg = JSON.parse(readFileSync(join(__dirname, '../../package.json'), 'utf8'));
    expect(LIBRARY_VERSION).toBe(pkg.version);
    expect(TRACKER_VERSION).toBe(`nestjs-snowplow-${pkg.version}`);
  });
});
