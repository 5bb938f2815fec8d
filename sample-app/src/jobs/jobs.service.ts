import { ConflictException, Injectable, NotFoundException } from '@nestjs/common';
import { TrackerService } from 'nestjs-snowplow';
import { AppConfig } from '../config';
import { JOB_ENTITY_SCHEMA, JOB_RATED_SCHEMA, JobEntity, SampleSchemas } from '../schemas';
import { CreateJobInput, Explanation, FinishedJob, FinishJobInput, Job, RatedJob, RateJobInput } from './job';

/**
 * Keeps jobs in memory, sends a billing event for the minutes of every finished job, and an event
 * of the sample's own schema for every rating.
 */
@Injectable()
export class JobsService {
  private readonly jobs = new Map<string, Job>();
  private nextId = 1;

  constructor(
    // The catalogue type argument makes the compiler check the sample's own events and entities.
    private readonly tracker: TrackerService<SampleSchemas>,
    private readonly config: AppConfig,
  ) {}

  create(input: CreateJobInput): Job {
    const job: Job = { id: String(this.nextId++), ...input, status: 'running', createdAt: new Date().toISOString() };
    this.jobs.set(job.id, job);
    return { ...job };
  }

  get(id: string): Job {
    return { ...this.find(id) };
  }

  /**
   * Finishes a running job and bills its minutes: a structured event carrying a
   * `com.gitlab/billable_usage` entity, with the optional fields this app knows. No correlation id
   * is passed: inside a request, TrackerService takes the request's (X-Request-Id or
   * X-Correlation-Id) by itself.
   */
  finish(id: string, { minutes }: FinishJobInput): FinishedJob {
    const job = this.requireRunning(id, 'finished');
    const { eventId, eid } = this.tracker.trackBillingEventWithOptionalInput(
      {
        category: 'ci',
        eventType: 'ci_minutes',
        realm: this.config.billing.realm,
        unitOfMeasure: 'minutes',
        quantity: minutes,
      },
      {
        // Unset optional fields (undefined or '') are left out of the event.
        projectId: job.projectId,
        namespaceId: job.namespaceId,
        instanceId: this.config.billing.instanceId,
        entityId: `job-${job.id}`,
        metadata: { job_name: job.name },
      },
    );
    job.status = 'finished';
    job.finishedAt = new Date().toISOString();
    job.minutes = minutes;
    return { job: { ...job }, billing: { eventId, eid } };
  }

  /**
   * Summarises a job, as an AI feature would, and reports the tokens it took. The handler's
   * `@TrackBillingEvent` bills them from this result; nothing is tracked here.
   */
  async explain(id: string): Promise<Explanation> {
    const job = this.find(id);
    // Stands for a call to a model: the answer arrives after an await, still inside the request.
    const summary = await Promise.resolve(
      `Job ${job.id} "${job.name}" of project ${job.projectId} is ${job.status}` +
        (job.minutes === undefined ? '.' : ` after ${job.minutes} minutes.`),
    );
    const tokens = summary.split(/\s+/).length * 4;
    return { jobId: job.id, projectId: job.projectId, summary, usage: { tokens, realm: this.config.billing.realm } };
  }

  /**
   * Records a user's rating of a job: a self-describing event of the sample's own schema
   * (`com.example/job_rated`), with the job as an entity (`com.example/job`). The module's
   * `subject` option adds the request's IP address and User-Agent (see AppModule); nothing here
   * passes them.
   */
  rate(id: string, { rating, comment }: RateJobInput): RatedJob {
    const job = this.find(id);
    const entity: JobEntity = {
      job_id: job.id,
      project_id: job.projectId,
      status: job.status,
      ...(job.minutes === undefined ? {} : { minutes: job.minutes }),
    };
    const { eid } = this.tracker.trackSelfDescribingEvent(
      { schema: JOB_RATED_SCHEMA, data: comment === undefined ? { rating } : { rating, comment } },
      { entities: [{ schema: JOB_ENTITY_SCHEMA, data: entity }] },
    );
    return { jobId: job.id, rating, eid };
  }

  cancel(id: string): Job {
    const job = this.requireRunning(id, 'canceled');
    job.status = 'canceled';
    job.finishedAt = new Date().toISOString();
    return { ...job };
  }

  private find(id: string): Job {
    const job = this.jobs.get(id);
    if (!job) throw new NotFoundException(`job ${id} does not exist`);
    return job;
  }

  private requireRunning(id: string, action: string): Job {
    const job = this.find(id);
    if (job.status !== 'running') {
      throw new ConflictException(`job ${id} is ${job.status}; only a running job can be ${action}`);
    }
    return job;
  }
}
