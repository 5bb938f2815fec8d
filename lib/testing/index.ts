/**
 * `nestjs-snowplow/testing`: test an app's tracking without a Snowplow pipeline. Needs the
 * optional peers `ajv` and `ajv-formats` (and `@nestjs/testing` for `SnowplowTestingModule`).
 *
 * @packageDocumentation
 */

// Capturing events in memory, in a Nest test
export { SnowplowTestingModule } from './snowplow-testing.module';
export type { SnowplowTestingModuleOptions } from './snowplow-testing.module';
export { SnowplowTestingCapture } from './snowplow-testing.capture';
export type { CapturedEventFilter } from './snowplow-testing.capture';

// A local collector, the in-process equivalent of Snowplow Micro
export { startLocalCollector } from './local-collector';
export type { LocalCollector, LocalCollectorOptions, WaitForOptions } from './local-collector';
export type { CollectorCounts, CollectorRecord, CollectorSnapshot, WaitCondition } from './event-store';
export { formatEventLine } from './event-line';

// Decoding and validating what was sent
export { decodeEvent } from './event-decoder';
export type { DecodeOptions, EventDecodeResult } from './event-decoder';
export { decodePayloadBody } from './payload-body';
export type { BadEvent, DecodeResult, EventError, GoodEvent, RawEvent, SelfDescribingJson } from './types';
export { builtinIgluRegistry } from './builtin-registry';
export { IgluRegistryError, loadIgluRegistry } from './iglu-registry';
export type { IgluRegistry, IgluValidationError } from './iglu-registry';
