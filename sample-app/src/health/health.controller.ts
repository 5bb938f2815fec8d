import { Controller, Get } from '@nestjs/common';
import { HealthCheck, HealthCheckService } from '@nestjs/terminus';
import { SnowplowHealthIndicator } from 'nestjs-snowplow/health';

/** Readiness: down when the Snowplow queue is nearly full or the collector keeps failing. Not tracked. */
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly snowplow: SnowplowHealthIndicator,
  ) {}

  @Get()
  @HealthCheck()
  check() {
    return this.health.check([
      () => this.snowplow.isHealthy('snowplow', { maxFillRatio: 0.8, maxConsecutiveFailures: 5 }),
    ]);
  }
}
