import { Controller, Get } from '@nestjs/common';

/** A liveness endpoint; not tracked. */
@Controller('health')
export class HealthController {
  @Get()
  check(): { status: 'ok' } {
    return { status: 'ok' };
  }
}
