import { inspect } from 'node:util';
import { InvalidOptionError } from '../errors';
import { TokenSource } from './token-source.interface';

/**
 * Always sends the same bearer token. For tests and fixed API keys. The token is held in a private
 * field and never appears in `JSON.stringify`, `util.inspect` (even with `showHidden`) or `String()`
 * of this object.
 */
export class StaticTokenSource implements TokenSource {
  readonly #token: string;

  constructor(token: string) {
    if (typeof token !== 'string' || token === '') throw new InvalidOptionError('token', 'must be a non-empty string');
    this.#token = token;
  }

  /** Sets `Authorization: Bearer <token>`. */
  async enhanceHeader(headers: Record<string, string>): Promise<void> {
    headers.Authorization = `Bearer ${this.#token}`;
  }

  /** Safe for logs: the type only, never the token. */
  toJSON(): Record<string, unknown> {
    return { type: 'StaticTokenSource', token: '***' };
  }

  /** Safe for logs: the type only, never the token. */
  toString(): string {
    return 'StaticTokenSource { token: *** }';
  }

  /** What `util.inspect` and `console.log` print: the same as `toString()`. */
  [inspect.custom](): string {
    return this.toString();
  }
}
