import { Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { SnowplowHealthIndicator } from 'nestjs-snowplow/health';
import { HealthController } from './health.controller';

@Module({
  imports: [TerminusModule],
  controllers: [HealthController],
  providers: [SnowplowHealthIndicator],
})
export class HealthModule {}
