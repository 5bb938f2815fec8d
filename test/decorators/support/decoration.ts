import { InvalidOptionError } from '../../../lib/errors';

/** Runs `define` (a class definition) and returns the InvalidOptionError it threw. */
export function decorationError(define: () => unknown): InvalidOptionError {
  try {
    define();
  } catch (err) {
    expect(err).toBeInstanceOf(InvalidOptionError);
    return err as InvalidOptionError;
  }
  throw new Error('expected the class definition to throw');
}
