import { Controller, Get, Query, Res } from '@nestjs/common';
import { ApiOperation, ApiQuery, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { ApiPaths, ErrorCode, TandemError, activityEntrySchema, activityNextLink, activityQuerySchema, describeZodError } from '@tandem/contracts';
import { ActivityLog } from '@tandem/persistence';
import { z } from 'zod';
import { ApiProblems, schemaOf } from './openapi';

const q = activityQuerySchema.shape;

@ApiTags('activity')
@Controller(ApiPaths.activity.slice(1))
export class ActivityController {
  constructor(private readonly log: ActivityLog) {}

  @Get()
  @ApiOperation({
    summary: 'The activity log, newest first: who did what to which target, how it ended, and its trace id',
    description:
      'A page of entries, newest first. When there may be older ones, the `Link` header points at the next page (`rel="next"`, its `before` the cursor): ' +
      "the cursor is the last entry's `eventId` (the same on every node, so the next page may be asked of any gateway) or, without one, its `id`.",
  })
  @ApiQuery({ name: 'limit', required: false, description: 'How many entries, newest first', schema: schemaOf(q.limit) })
  @ApiQuery({ name: 'before', required: false, description: 'Only the entries before this cursor (from the `Link` header of the page before)', schema: schemaOf(q.before.unwrap()) })
  @ApiQuery({
    name: 'pool',
    required: false,
    description: "Only the entries about this pool (pool operations, its failovers, its replication's settings and resume)",
    schema: schemaOf(q.pool.unwrap()),
  })
  @ApiQuery({
    name: 'node',
    required: false,
    description: 'Only the entries about this node (cluster create/join, node offline/online/remove, its replication keys)',
    schema: schemaOf(q.node.unwrap()),
  })
  @ApiQuery({ name: 'result', required: false, description: 'Only the entries of this result', schema: schemaOf(q.result.unwrap()) })
  @ApiResponse({
    status: 200,
    schema: schemaOf(z.array(activityEntrySchema)),
    headers: { Link: { description: 'The next (older) page, when there may be one: `</api/v1/activity?…&before=CURSOR>; rel="next"`', schema: { type: 'string' } } },
  })
  @ApiProblems(400)
  async recent(@Query() query: Record<string, unknown>, @Res({ passthrough: true }) res: Response) {
    const r = activityQuerySchema.safeParse(query);
    if (!r.success) {
      const { field, message } = describeZodError(r.error);
      throw new TandemError(ErrorCode.InvalidArgument, message, field);
    }
    const page = await this.log.page(r.data);
    if (!page) throw new TandemError(ErrorCode.InvalidArgument, `before: no entry ${r.data.before} in the activity log`, 'before');
    if (page.next !== undefined) res.setHeader('Link', activityNextLink(r.data, page.next));
    return page.entries;
  }
}
