import type * as PromClient from 'prom-client';
import { loadOptional } from '../utils/optional-dependency';

/** prom-client is a peer dependency, loaded only when metrics are on. */
export function loadPromClient(): typeof PromClient {
  return loadOptional<typeof PromClient>({
    name: 'prom-client',
    feature: 'Metrics (the metrics option)',
    install: 'npm install prom-client, or set metrics: false',
  });
}
