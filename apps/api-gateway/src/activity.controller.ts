import { Controller, Get, Query } from '@nestjs/common';
import { ActivityLog } from '@tandem/persistence';

@Controller('api/v1/activity')
export class ActivityController {
  constructor(private readonly log: ActivityLog) {}

  @Get()
  recent(@Query('limit') limit?: string) {
    const n = Number(limit ?? 100);
    return this.log.recent(Number.isInteger(n) ? n : 100);
  }
}
