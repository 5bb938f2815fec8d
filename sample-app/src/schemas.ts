import * as path from 'node:path';

/**
 * The sample's own Iglu schemas, in `sample-app/iglu` (the layout of a static Iglu registry:
 * `schemas/VENDOR/NAME/jsonschema/M-R-A`). The embedded collector validates events against them,
 * as a real pipeline would against your registry. Resolved from this file, so it holds for
 * `src/` (tests) and `dist/` (`npm start`) alike.
 */
export const SAMPLE_IGLU_DIR = path.resolve(__dirname, '..', 'iglu');

/** The event a user sends when rating a job. */
export const JOB_RATED_SCHEMA = 'iglu:com.example/job_rated/jsonschema/1-0-0';
/** The entity describing the job an event is about. */
export const JOB_ENTITY_SCHEMA = 'iglu:com.example/job/jsonschema/1-0-0';

/** Data of `com.example/job_rated` 1-0-0. */
export interface JobRated {
  readonly rating: number;
  readonly comment?: string | null;
}

/** Data of `com.example/job` 1-0-0. */
export interface JobEntity {
  readonly job_id: string;
  readonly project_id: number;
  readonly status: 'running' | 'finished' | 'canceled';
  readonly minutes?: number | null;
}

/**
 * The sample's schema catalogue, written by hand (`npx nestjs-snowplow-types --iglu sample-app/iglu`
 * generates one from the folder): with `TrackerService<SampleSchemas>`, the compiler checks every
 * `trackSelfDescribingEvent` and entity of these schemas against their types.
 */
export interface SampleSchemas {
  [JOB_RATED_SCHEMA]: JobRated;
  [JOB_ENTITY_SCHEMA]: JobEntity;
}
