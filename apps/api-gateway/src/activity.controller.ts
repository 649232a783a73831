import { Controller, Get, Query } from '@nestjs/common';
import { ApiOperation, ApiQuery, ApiResponse, ApiTags } from '@nestjs/swagger';
import { ApiPaths, ErrorCode, TandemError, activityEntrySchema, activityQuerySchema, describeZodError } from '@tandem/contracts';
import { ActivityLog } from '@tandem/persistence';
import { z } from 'zod';
import { ApiProblems, schemaOf } from './openapi';

@ApiTags('activity')
@Controller(ApiPaths.activity.slice(1))
export class ActivityController {
  constructor(private readonly log: ActivityLog) {}

  @Get()
  @ApiOperation({ summary: 'The activity log, newest first: who did what to which target, how it ended, and its trace id' })
  @ApiQuery({ name: 'limit', required: false, description: 'How many entries, newest first', schema: schemaOf(activityQuerySchema.shape.limit) })
  @ApiResponse({ status: 200, schema: schemaOf(z.array(activityEntrySchema)) })
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
