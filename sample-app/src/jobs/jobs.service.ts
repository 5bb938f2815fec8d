import { ConflictException, Injectable, NotFoundException } from '@nestjs/common';
import { TrackerService } from 'nestjs-snowplow';
import { AppConfig } from '../config';
import { CreateJobInput, FinishedJob, FinishJobInput, Job } from './job';

/** Keeps jobs in memory and sends a billing event for the minutes of every finished job. */
@Injectable()
export class JobsService {
  private readonly jobs = new Map<string, Job>();
  private nextId = 1;

  constructor(
    private readonly tracker: TrackerService,
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
   * `com.gitlab/billable_usage` entity, with the optional fields this app knows.
   */
  finish(id: string, { minutes }: FinishJobInput, correlationId?: string): FinishedJob {
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
        correlationId,
        entityId: `job-${job.id}`,
        metadata: { job_name: job.name },
      },
    );
    job.status = 'finished';
    job.finishedAt = new Date().toISOString();
    job.minutes = minutes;
    return { job: { ...job }, billing: { eventId, eid } };
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
