import { Module } from '@nestjs/common';
import { JobsController } from './jobs.controller';
import { JobsService } from './jobs.service';

/** TrackerService comes from SnowplowModule, registered with isGlobal: true in AppModule. */
@Module({
  controllers: [JobsController],
  providers: [JobsService],
})
export class JobsModule {}
