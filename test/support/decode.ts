import { join } from 'node:path';
// The decoder's own modules, not the testing entry point (which loads Nest for SnowplowTestingModule).
import { IgluRegistry, loadIgluRegistry } from '../../lib/testing/iglu-registry';
import { decodePayloadBody } from '../../lib/testing/payload-body';
import { GoodEvent } from '../../lib/testing/types';
import { LocalCollector } from '../../lib/testing/local-collector';

/** The project's own copy of the Iglu schemas: tests never read ../shared. */
export const FIXTURE_IGLU_DIR = join(__dirname, '..', 'fixtures', 'iglu');

let registry: IgluRegistry | undefined;
export function fixtureRegistry(): IgluRegistry {
  registry ??= loadIgluRegistry(FIXTURE_IGLU_DIR);
  return registry;
}

/** Decodes one request body down to the innermost entities; fails the test on any schema error. */
export function decodeValidBody(body: string): GoodEvent[] {
  const result = decodePayloadBody(JSON.parse(body), { registry: fixtureRegistry() });
  if (result.bad.length > 0) {
    throw new Error(`collector received schema-invalid events: ${JSON.stringify(result.bad.slice(0, 3), null, 2)}`);
  }
  return result.good;
}

/** Every event the collector accepted (2xx), schema-validated and decoded, in arrival order. */
export function decodeAccepted(collector: LocalCollector): GoodEvent[] {
  return collector.accepted().flatMap((request) => decodeValidBody(request.body));
}
