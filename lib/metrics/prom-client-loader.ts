import type * as PromClient from 'prom-client';
import { InvalidOptionError } from '../errors';

/** prom-client is a peer dependency, loaded only when metrics are on. */
export function loadPromClient(): typeof PromClient {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require('prom-client') as typeof PromClient;
  } catch {
    throw new InvalidOptionError(
      'metrics',
      'prom-client is not installed: run `npm install prom-client`, or set metrics: false',
    );
  }
}
