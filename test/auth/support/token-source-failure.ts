import { TokenSourceError } from '../../../lib';

/** Awaits a call that must fail with a TokenSourceError, and returns that error. */
export async function failure(promise: Promise<unknown>): Promise<TokenSourceError> {
  try {
    await promise;
  } catch (err) {
    expect(err).toBeInstanceOf(TokenSourceError);
    return err as TokenSourceError;
  }
  throw new Error('expected a TokenSourceError, but the call succeeded');
}
