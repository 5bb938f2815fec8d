import { BadRequestException } from '@nestjs/common';
import type { BillingRealm } from 'nestjs-snowplow';

export type JobStatus = 'running' | 'finished' | 'canceled';

/** A CI job of the sample domain; finishing one bills its minutes. */
export interface Job {
  id: string;
  projectId: number;
  namespaceId?: number;
  name: string;
  status: JobStatus;
  createdAt: string;
  finishedAt?: string;
  minutes?: number;
}

export interface CreateJobInput {
  projectId: number;
  namespaceId?: number;
  name: string;
}

export interface FinishJobInput {
  minutes: number;
}

/** What `POST /jobs/:id/finish` answers: the job and the ids of the billing event it sent. */
export interface FinishedJob {
  job: Job;
  billing: {
    /** The billable_usage `event_id`. */
    eventId: string;
    /** The Snowplow event id. */
    eid: string;
  };
}

/**
 * What `POST /jobs/:id/explain` answers: a summary of the job (a stand-in for an AI feature) and
 * what producing it used, which `@TrackBillingEvent` bills.
 */
export interface Explanation {
  jobId: string;
  projectId: number;
  summary: string;
  usage: {
    /** Tokens the summary took: the billed quantity. */
    tokens: number;
    /** The realm this deployment bills in (BILLING_REALM). */
    realm: BillingRealm;
  };
}

/** A `POST /jobs/:id/rate` body: a rating from 1 to 5 and an optional comment. */
export interface RateJobInput {
  rating: number;
  comment?: string;
}

/** What `POST /jobs/:id/rate` answers: the rating and the id of the `com.example/job_rated` event. */
export interface RatedJob {
  jobId: string;
  rating: number;
  eid: string;
}

const MAX_NAME_LENGTH = 100;
const MAX_COMMENT_LENGTH = 500;

/** Checks a `POST /jobs` body; a wrong one is a 400 naming the field. */
export function parseCreateJob(body: unknown): CreateJobInput {
  const input = requireObject(body);
  const name = input.name;
  if (typeof name !== 'string' || name.trim() === '' || name.length > MAX_NAME_LENGTH) {
    throw new BadRequestException(`name must be a non-empty string of at most ${MAX_NAME_LENGTH} characters`);
  }
  const projectId = requireId(input.projectId, 'projectId');
  const namespaceId = input.namespaceId === undefined ? undefined : requireId(input.namespaceId, 'namespaceId');
  return namespaceId === undefined ? { projectId, name } : { projectId, namespaceId, name };
}

/** Checks a `POST /jobs/:id/finish` body. */
export function parseFinishJob(body: unknown): FinishJobInput {
  const { minutes } = requireObject(body);
  if (typeof minutes !== 'number' || !Number.isFinite(minutes) || minutes <= 0) {
    throw new BadRequestException('minutes must be a number greater than 0');
  }
  return { minutes };
}

/** Checks a `POST /jobs/:id/rate` body (what the `com.example/job_rated` schema accepts). */
export function parseRateJob(body: unknown): RateJobInput {
  const { rating, comment } = requireObject(body);
  if (typeof rating !== 'number' || !Number.isInteger(rating) || rating < 1 || rating > 5) {
    throw new BadRequestException('rating must be an integer from 1 to 5');
  }
  if (comment === undefined) return { rating };
  if (typeof comment !== 'string' || comment.length > MAX_COMMENT_LENGTH) {
    throw new BadRequestException(`comment must be a string of at most ${MAX_COMMENT_LENGTH} characters`);
  }
  return { rating, comment };
}

function requireObject(body: unknown): Record<string, unknown> {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new BadRequestException('the body must be a JSON object (send Content-Type: application/json)');
  }
  return body as Record<string, unknown>;
}

function requireId(value: unknown, field: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new BadRequestException(`${field} must be a non-negative integer`);
  }
  return value;
}
