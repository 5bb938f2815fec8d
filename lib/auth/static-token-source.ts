import { InvalidOptionError } from '../errors';
import { TokenSource } from './token-source.interface';

/** Always sends the same bearer token. For tests and fixed API keys. */
export class StaticTokenSource implements TokenSource {
  constructor(private readonly token: string) {
    if (typeof token !== 'string' || token === '') throw new InvalidOptionError('token', 'must be a non-empty string');
  }

  async enhanceHeader(headers: Record<string, string>): Promise<void> {
    headers.Authorization = `Bearer ${this.token}`;
  }

  /** Keeps the token out of logs and error messages that print this object. */
  toJSON(): string {
    return 'StaticTokenSource(***)';
  }
}
