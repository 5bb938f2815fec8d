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
export type { CollectorRequest, EventTally, RequestFate, RequestFault } from './request-log';
export type { CollectorBehaviour, CollectorReply } from './tracker-traffic';

// Faults on purpose: the local collector as a test double
export { InvalidFaultPlanError, validateFaultPlan } from './fault-plan';
export type { FaultMatch, FaultPlan, FaultStep } from './fault-plan';
export type { FaultPlanState } from './fault-runner';

// Decoding and validating what was sent
export { decodeEvent } from './event-decoder';
export type { DecodeOptions, EventDecodeResult } from './event-decoder';
export { decodePayloadBody } from './payload-body';
export type { BadEvent, DecodeResult, EventError, GoodEvent, RawEvent, SelfDescribingJson } from './types';
export { builtinIgluRegistry } from './builtin-registry';
export { IgluRegistryError, loadIgluRegistry } from './iglu-registry';
export type { IgluRegistry, IgluValidationError } from './iglu-registry';
