import { Body, Controller, Get, HttpCode, HttpException, Param, Post } from '@nestjs/common';
import { TrackBillingEvent, TrackEvent } from 'nestjs-snowplow';
import { Explanation, FinishedJob, Job, parseCreateJob, parseFinishJob, parseRateJob, RatedJob } from './job';
import { JobsService } from './jobs.service';

/** The part of the HTTP request the `props` functions read. */
interface JobRequest {
  params: { id?: string };
}

/**
 * Every decorated handler sends one `com.gitlab/custom_event` per call, and `rate` an event of the
 * sample's own schema (tracked in JobsService); events are only queued, so responses never wait for
 * the collector.
 */
@Controller('jobs')
export class JobsController {
  constructor(private readonly jobs: JobsService) {}

  /** Props from the handler's result: the new job's id. */
  @Post()
  @TrackEvent<JobRequest, Job>('job_created', {
    props: ({ result }) => ({ job_id: result.id, project_id: result.projectId }),
  })
  create(@Body() body: unknown): Job {
    return this.jobs.create(parseCreateJob(body));
  }

  /** Props from the request. Only successful calls are tracked: a 404 sends nothing. */
  @Get(':id')
  @TrackEvent<JobRequest>('job_viewed', { props: ({ request }) => ({ job_id: request?.params.id }) })
  get(@Param('id') id: string): Job {
    return this.jobs.get(id);
  }

  /**
   * Sends the billing event (see JobsService.finish, which passes no correlation id: the request's
   * X-Request-Id reaches it by itself), then this custom event.
   */
  @Post(':id/finish')
  @HttpCode(200)
  @TrackEvent<JobRequest, FinishedJob>('job_finished', {
    props: ({ result }) => ({
      job_id: result.job.id,
      minutes: result.job.minutes,
      billing_event_id: result.billing.eventId,
    }),
  })
  finish(@Param('id') id: string, @Body() body: unknown): FinishedJob {
    return this.jobs.finish(id, parseFinishJob(body));
  }

  /**
   * Bills from the handler's result: the tokens the summary took. The billing event carries the
   * request's X-Request-Id as its correlation_id; a 404 bills nothing (`on` is 'success').
   */
  @Post(':id/explain')
  @HttpCode(200)
  @TrackBillingEvent<JobRequest, Explanation>(
    ({ result }) => ({
      category: 'duo',
      eventType: 'duo_job_summary',
      realm: result.usage.realm,
      unitOfMeasure: 'token',
      quantity: result.usage.tokens,
    }),
    { optional: ({ result }) => ({ projectId: result.projectId, entityId: `job-${result.jobId}` }) },
  )
  explain(@Param('id') id: string): Promise<Explanation> {
    return this.jobs.explain(id);
  }

  /**
   * A self-describing event of the sample's own schema, `com.example/job_rated`, with the job as
   * an entity and the request's IP address and User-Agent as its subject (see JobsService.rate).
   */
  @Post(':id/rate')
  @HttpCode(200)
  rate(@Param('id') id: string, @Body() body: unknown): RatedJob {
    return this.jobs.rate(id, parseRateJob(body));
  }

  /**
   * Tracks failures only: canceling a job that is not running throws a 409 (an unknown one a 404);
   * the client gets that status unchanged, and the event records it.
   */
  @Post(':id/cancel')
  @HttpCode(200)
  @TrackEvent<JobRequest>('job_cancel_rejected', {
    on: 'error',
    props: ({ request, error }) => ({
      job_id: request?.params.id,
      status: error instanceof HttpException ? error.getStatus() : 500,
      reason: error instanceof Error ? error.message : String(error),
    }),
  })
  cancel(@Param('id') id: string): Job {
    return this.jobs.cancel(id);
  }
}
