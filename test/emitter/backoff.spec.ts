import { Backoff, DEFAULT_BACKOFF, parseRetryAfter } from '../../lib/emitter/backoff';

/** A random source that plays back `values` in turn. */
function sequence(...values: number[]): () => number {
  let i = 0;
  return () => values[i++ % values.length];
}

describe('Backoff', () => {
  it('defaults to a 100 ms base, factor 2 and a 30 s cap', () => {
    expect(DEFAULT_BACKOFF).toEqual({ baseMs: 100, factor: 2, capMs: 30_000 });
  });

  it('grows the ceiling by the factor with each consecutive failure: base * factor^n', () => {
    const backoff = new Backoff({ baseMs: 100, factor: 3, capMs: 1_000_000 }, () => 0.5);
    const ceilings: number[] = [];
    for (let i = 0; i < 5; i++) {
      ceilings.push(backoff.ceilingMs);
      backoff.next();
    }
    expect(ceilings).toEqual([100, 300, 900, 2_700, 8_100]);
  });

  it('draws each delay uniformly below the ceiling (full jitter), floored to whole ms', () => {
    const backoff = new Backoff({ baseMs: 100, factor: 2, capMs: 30_000 }, sequence(0, 0.5, 0.999, 0.25));
    expect([backoff.next(), backoff.next(), backoff.next(), backoff.next()]).toEqual([0, 100, 399, 200]);
  });

  it('never exceeds the cap however many failures there were', () => {
    const backoff = new Backoff({ baseMs: 100, factor: 2, capMs: 1_000 }, () => 0.9999);
    const delays = Array.from({ length: 40 }, () => backoff.next());
    expect(delays.slice(0, 4)).toEqual([99, 199, 399, 799]);
    expect(delays.slice(4).every((d) => d === 999)).toBe(true);
    expect(backoff.ceilingMs).toBe(1_000);
  });

  it('a cap below the base bounds the first delay too', () => {
    const backoff = new Backoff({ baseMs: 500, factor: 2, capMs: 50 }, () => 0.9999);
    expect(backoff.ceilingMs).toBe(50);
    expect(backoff.next()).toBe(49);
  });

  it('reset() after a success starts again from the base', () => {
    const backoff = new Backoff({ baseMs: 10, factor: 10, capMs: 1e9 }, () => 0.9999);
    expect([backoff.next(), backoff.next(), backoff.next()]).toEqual([9, 99, 999]);
    backoff.reset();
    expect(backoff.ceilingMs).toBe(10);
    expect(backoff.next()).toBe(9);
    expect(backoff.next()).toBe(99);
  });

  it('reads its randomness from Math.random by default', () => {
    const random = jest.spyOn(Math, 'random').mockReturnValue(0.5);
    try {
      expect(new Backoff({ baseMs: 100, factor: 2, capMs: 1_000 }).next()).toBe(50);
      expect(random).toHaveBeenCalledTimes(1);
    } finally {
      random.mockRestore();
    }
  });
});

describe('parseRetryAfter', () => {
  const now = Date.parse('2026-01-02T03:04:05Z');

  it('reads delay-seconds as ms', () => {
    expect(parseRetryAfter('2', now)).toBe(2_000);
    expect(parseRetryAfter(' 120 ', now)).toBe(120_000);
    expect(parseRetryAfter('0', now)).toBe(0);
  });

  it('reads an HTTP date as ms from now, and a date in the past as 0', () => {
    expect(parseRetryAfter('Fri, 02 Jan 2026 03:04:15 GMT', now)).toBe(10_000);
    expect(parseRetryAfter('Fri, 02 Jan 2026 03:03:05 GMT', now)).toBe(0);
    // A date ending in digits (a numeric zone) is a date, not delay-seconds.
    expect(parseRetryAfter('Fri, 02 Jan 2026 03:04:15 +0000', now)).toBe(10_000);
  });

  it.each([undefined, null, 5, '', '   ', 'soon', '1.5x'])('ignores %p', (header) => {
    expect(parseRetryAfter(header, now)).toBeUndefined();
  });
});
