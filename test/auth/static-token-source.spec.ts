import { InvalidOptionError, StaticTokenSource } from '../../lib/core';

describe('StaticTokenSource', () => {
  it('sets Authorization: Bearer with the token, on every call', async () => {
    const source = new StaticTokenSource('fixed-api-key');
    for (let i = 0; i < 2; i++) {
      const headers: Record<string, string> = { 'Content-Type': 'application/json' };
      await source.enhanceHeader(headers);
      expect(headers).toEqual({ 'Content-Type': 'application/json', Authorization: 'Bearer fixed-api-key' });
    }
  });

  it.each<[string, unknown]>([
    ['an empty string', ''],
    ['a number', 42],
    ['undefined', undefined],
  ])('refuses %s as the token, naming the option', (_what, token) => {
    let thrown: unknown;
    try {
      new StaticTokenSource(token as string);
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(InvalidOptionError);
    expect(thrown).toMatchObject({
      option: 'token',
      message: 'Invalid Snowplow option "token": must be a non-empty string',
    });
  });
});
