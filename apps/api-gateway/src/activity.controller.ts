import { Controller, Get, Query } from '@nestjs/common';
import { ApiOperation, ApiQuery, ApiResponse, ApiTags } from '@nestjs/swagger';
import { ApiPaths, ErrorCode, TandemError, activityQuerySchema, describeZodError } from '@tandem/contracts';
import { ActivityLog } from '@tandem/persistence';
import { ApiProblems, ref } from './openapi';

@ApiTags('activity')
@Controller(ApiPaths.activity.slice(1))
export class ActivityController {
  constructor(private readonly log: ActivityLog) {}

  @Get()
  @ApiOperation({ summary: 'The activity log, newest first: who did what to which target, how it ended, and its trace id' })
  @ApiQuery({ name: 'limit', required: false, schema: { type: 'integer', minimum: 1, maximum: 1000, default: 100 } })
  @ApiResponse({ status: 200, schema: { type: 'array', items: ref('ActivityEntry') } })
  @ApiProblems(400)
  recent(@Query() query: Record<string, unknown>) {
    const r = activityQuerySchema.safeParse(query);
    if (!r.success) {
      const { field, message } = describeZodError(r.error);
      throw new TandemError(ErrorCode.InvalidArgument, message, field);
    }
    return this.log.recent(r.data.limit);
  }
}
