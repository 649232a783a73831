import { Body, Controller, Delete, Get, Headers, HttpCode, Inject, Param, Post, Put } from '@nestjs/common';
import { ApiBody, ApiHeader, ApiOperation, ApiParam, ApiResponse, ApiTags } from '@nestjs/swagger';
import { z } from 'zod';
import { ACTOR_HEADER, ApiPaths, actorSchema, poolOpRequests, poolOpResults, snapshotScheduleSchema, type PoolOpResults, type PoolOperation, type SnapshotSchedule } from '@tandem/contracts';
import { ResourceManagerClient } from '@tandem/messaging';
import { SERVICE_CONTEXT, type ServiceContext } from '@tandem/service-kit';
import { ApiAuthenticated, ApiProblems, ref, schemaOf } from './openapi';
import { askResourceManager, contractRequest } from './resource-manager';

/** Mutating operations may take a whole export + import + shares; reads must be quick. */
export const MUTATING_TIMEOUT_MS = 120_000;
export const READ_TIMEOUT_MS = 10_000;

const READS = new Set<PoolOperation>(['pool.list', 'pool.get', 'pool.lun-list']);

/**
 * The request the resource-manager gets: the body plus the fields the gateway sets itself,
 * validated with the pool-operation contract before anything is sent (see contractRequest).
 */
export function poolRequest(op: PoolOperation, body: unknown, set: Record<string, unknown>): Record<string, unknown> {
  return contractRequest(poolOpRequests[op], body, set);
}

@ApiTags('pools')
@Controller(ApiPaths.pools.slice(1))
export class PoolsController {
  constructor(
    @Inject(SERVICE_CONTEXT) private readonly ctx: ServiceContext,
    private readonly rm: ResourceManagerClient,
  ) {}

  private actor(header: string | undefined): string {
    return header !== undefined && actorSchema.safeParse(header).success ? header : `api@${this.ctx.config.nodeId}`;
  }

  /** Forward to the active resource-manager; errors become problem details carrying the trace id. */
  private forward<O extends PoolOperation>(op: O, payload: Record<string, unknown>): Promise<PoolOpResults[O]> {
    return askResourceManager(this.rm, op, payload, {
      timeoutMs: READS.has(op) ? READ_TIMEOUT_MS : MUTATING_TIMEOUT_MS,
      check: 'check the pool and the activity log',
      attributes: { 'tandem.pool': String(payload.pool ?? '') },
    });
  }

  @Get()
  @ApiOperation({ summary: 'List the HA pools under cluster control' })
  @ApiResponse({ status: 200, schema: schemaOf(poolOpResults['pool.list']) })
  @ApiProblems(502, 503, 504)
  list(): Promise<PoolOpResults['pool.list']> {
    return this.forward('pool.list', poolRequest('pool.list', {}, {}));
  }

  @Get(':pool')
  @ApiOperation({ summary: 'One HA pool' })
  @ApiParam({ name: 'pool', schema: ref('PoolName') })
  @ApiResponse({ status: 200, schema: schemaOf(poolOpResults['pool.get']) })
  @ApiProblems(400, 404, 502, 503, 504)
  get(@Param('pool') pool: string): Promise<PoolOpResults['pool.get']> {
    return this.forward('pool.get', poolRequest('pool.get', {}, { pool }));
  }

  @Post()
  @ApiAuthenticated()
  @ApiOperation({
    summary: 'Attach: put a pool under cluster control',
    description: 'Imports the pool on `node`, brings up its floating IPs and starts its shares.',
  })
  @ApiHeader({ name: ACTOR_HEADER, required: false, description: 'Who asks, for the activity log (default api@<node>)' })
  @ApiBody({ schema: ref('AttachPoolRequest') })
  @ApiResponse({ status: 201, description: 'Attached and serving', schema: schemaOf(poolOpResults['pool.attach']) })
  @ApiProblems(400, 401, 404, 409, 502, 503, 504)
  attach(@Body() body: unknown, @Headers(ACTOR_HEADER) actor?: string): Promise<PoolOpResults['pool.attach']> {
    return this.forward('pool.attach', poolRequest('pool.attach', body, { actor: this.actor(actor) }));
  }

  @Get(':pool/luns')
  @ApiOperation({ summary: "The pool's iSCSI target and LUNs", description: 'The IQN, portals, LUN numbers, serials and device identifiers: the same from whichever node serves the pool.' })
  @ApiParam({ name: 'pool', schema: ref('PoolName') })
  @ApiResponse({ status: 200, schema: schemaOf(poolOpResults['pool.lun-list']) })
  @ApiProblems(400, 404, 502, 503, 504)
  luns(@Param('pool') pool: string): Promise<PoolOpResults['pool.lun-list']> {
    return this.forward('pool.lun-list', poolRequest('pool.lun-list', {}, { pool }));
  }

  @Post(':pool/luns')
  @ApiAuthenticated()
  @ApiOperation({ summary: 'Add a LUN to the pool', description: 'Made on the serving node and taken by the running target; initiators see it on their next LUN scan.' })
  @ApiParam({ name: 'pool', schema: ref('PoolName') })
  @ApiHeader({ name: ACTOR_HEADER, required: false })
  @ApiBody({ schema: ref('AddLunRequest') })
  @ApiResponse({ status: 201, description: 'The pool with its new LUN', schema: schemaOf(poolOpResults['pool.lun-add']) })
  @ApiProblems(400, 401, 404, 409, 502, 503, 504)
  addLun(@Param('pool') pool: string, @Body() body: unknown, @Headers(ACTOR_HEADER) actor?: string): Promise<PoolOpResults['pool.lun-add']> {
    return this.forward('pool.lun-add', poolRequest('pool.lun-add', body, { pool, actor: this.actor(actor) }));
  }

  @Delete(':pool/luns/:lun')
  @ApiAuthenticated()
  @HttpCode(200)
  @ApiOperation({ summary: 'Remove a LUN from the pool', description: 'Taken out of the target, then its zvol or file is destroyed: its data is gone.' })
  @ApiParam({ name: 'pool', schema: ref('PoolName') })
  @ApiParam({ name: 'lun', schema: ref('LunName') })
  @ApiHeader({ name: ACTOR_HEADER, required: false })
  @ApiResponse({ status: 200, description: 'The pool without the LUN', schema: schemaOf(poolOpResults['pool.lun-remove']) })
  @ApiProblems(400, 401, 404, 409, 502, 503, 504)
  removeLun(@Param('pool') pool: string, @Param('lun') lun: string, @Headers(ACTOR_HEADER) actor?: string): Promise<PoolOpResults['pool.lun-remove']> {
    return this.forward('pool.lun-remove', poolRequest('pool.lun-remove', {}, { pool, name: lun, actor: this.actor(actor) }));
  }

  @Put(':pool/chap')
  @ApiAuthenticated()
  @HttpCode(200)
  @ApiOperation({
    summary: "Ask initiators for CHAP at the pool's target",
    description: 'Kept for every node that serves the pool (apart from the pool record: events never carry it); a running target is started again with it (open sessions end).',
  })
  @ApiParam({ name: 'pool', schema: ref('PoolName') })
  @ApiHeader({ name: ACTOR_HEADER, required: false })
  @ApiBody({ schema: ref('SetChapRequest') })
  @ApiResponse({ status: 200, description: "The pool's target, with its CHAP user (never the secret)", schema: schemaOf(poolOpResults['pool.chap-set']) })
  @ApiProblems(400, 401, 404, 409, 502, 503, 504)
  setChap(@Param('pool') pool: string, @Body() body: unknown, @Headers(ACTOR_HEADER) actor?: string): Promise<PoolOpResults['pool.chap-set']> {
    return this.forward('pool.chap-set', poolRequest('pool.chap-set', body, { pool, actor: this.actor(actor) }));
  }

  @Delete(':pool/chap')
  @ApiAuthenticated()
  @HttpCode(200)
  @ApiOperation({ summary: "Let initiators in without CHAP at the pool's target", description: 'A running target is started again without it.' })
  @ApiParam({ name: 'pool', schema: ref('PoolName') })
  @ApiHeader({ name: ACTOR_HEADER, required: false })
  @ApiResponse({ status: 200, description: "The pool's target, without CHAP", schema: schemaOf(poolOpResults['pool.chap-clear']) })
  @ApiProblems(400, 401, 404, 409, 502, 503, 504)
  clearChap(@Param('pool') pool: string, @Headers(ACTOR_HEADER) actor?: string): Promise<PoolOpResults['pool.chap-clear']> {
    return this.forward('pool.chap-clear', poolRequest('pool.chap-clear', {}, { pool, actor: this.actor(actor) }));
  }

  @Post(':pool/move')
  @ApiAuthenticated()
  @HttpCode(200)
  @ApiOperation({ summary: 'Move a serving pool to another node', description: 'Shares, floating IPs and the import move to the target node under a new fencing epoch.' })
  @ApiParam({ name: 'pool', schema: ref('PoolName') })
  @ApiHeader({ name: ACTOR_HEADER, required: false })
  @ApiBody({ schema: ref('MovePoolRequest') })
  @ApiResponse({ status: 200, description: 'Serving on the target node', schema: schemaOf(poolOpResults['pool.move']) })
  @ApiProblems(400, 401, 404, 409, 502, 503, 504)
  move(@Param('pool') pool: string, @Body() body: unknown, @Headers(ACTOR_HEADER) actor?: string): Promise<PoolOpResults['pool.move']> {
    return this.forward('pool.move', poolRequest('pool.move', body, { pool, actor: this.actor(actor) }));
  }

  @Post(':pool/mark-usable')
  @ApiAuthenticated()
  @HttpCode(200)
  @ApiOperation({
    summary: 'Mark a node usable for the pool again',
    description: 'After an automatic failover the pool never goes back to the node it failed on by itself; this clears that mark for `node`.',
  })
  @ApiParam({ name: 'pool', schema: ref('PoolName') })
  @ApiHeader({ name: ACTOR_HEADER, required: false })
  @ApiBody({ schema: ref('MarkUsableRequest') })
  @ApiResponse({ status: 200, description: 'The pool, with the node no longer among those it failed on', schema: schemaOf(poolOpResults['pool.mark-usable']) })
  @ApiProblems(400, 401, 404, 409, 502, 503, 504)
  markUsable(@Param('pool') pool: string, @Body() body: unknown, @Headers(ACTOR_HEADER) actor?: string): Promise<PoolOpResults['pool.mark-usable']> {
    return this.forward('pool.mark-usable', poolRequest('pool.mark-usable', body, { pool, actor: this.actor(actor) }));
  }

  @Post(':pool/detach')
  @ApiAuthenticated()
  @HttpCode(200)
  @ApiOperation({ summary: 'Detach: drop the pool from cluster control, leaving it imported and served where it is (unmanaged)' })
  @ApiParam({ name: 'pool', schema: ref('PoolName') })
  @ApiHeader({ name: ACTOR_HEADER, required: false })
  @ApiBody({ schema: ref('DetachPoolRequest'), required: false })
  @ApiResponse({ status: 200, schema: schemaOf(poolOpResults['pool.detach']) })
  @ApiProblems(400, 401, 404, 409, 502, 503, 504)
  detach(@Param('pool') pool: string, @Body() body: unknown, @Headers(ACTOR_HEADER) actor?: string): Promise<PoolOpResults['pool.detach']> {
    return this.forward('pool.detach', poolRequest('pool.detach', body, { pool, actor: this.actor(actor) }));
  }

  @Post(':pool/export')
  @ApiAuthenticated()
  @HttpCode(200)
  @ApiOperation({ summary: 'Export: stop serving and export the pool; it stays under cluster control, inactive' })
  @ApiParam({ name: 'pool', schema: ref('PoolName') })
  @ApiHeader({ name: ACTOR_HEADER, required: false })
  @ApiBody({ schema: ref('ExportPoolRequest'), required: false })
  @ApiResponse({ status: 200, schema: schemaOf(poolOpResults['pool.export']) })
  @ApiProblems(400, 401, 404, 409, 502, 503, 504)
  export(@Param('pool') pool: string, @Body() body: unknown, @Headers(ACTOR_HEADER) actor?: string): Promise<PoolOpResults['pool.export']> {
    return this.forward('pool.export', poolRequest('pool.export', body, { pool, actor: this.actor(actor) }));
  }

  @Post(':pool/reattach')
  @ApiAuthenticated()
  @HttpCode(200)
  @ApiOperation({ summary: 'Reattach: serve an inactive pool on a node again' })
  @ApiParam({ name: 'pool', schema: ref('PoolName') })
  @ApiHeader({ name: ACTOR_HEADER, required: false })
  @ApiBody({ schema: ref('ReattachPoolRequest') })
  @ApiResponse({ status: 200, schema: schemaOf(poolOpResults['pool.reattach']) })
  @ApiProblems(400, 401, 404, 409, 502, 503, 504)
  reattach(@Param('pool') pool: string, @Body() body: unknown, @Headers(ACTOR_HEADER) actor?: string): Promise<PoolOpResults['pool.reattach']> {
    return this.forward('pool.reattach', poolRequest('pool.reattach', body, { pool, actor: this.actor(actor) }));
  }

  @Delete(':pool')
  @ApiAuthenticated()
  @ApiOperation({ summary: 'Remove: drop an inactive pool from cluster control (export it first)' })
  @ApiParam({ name: 'pool', schema: ref('PoolName') })
  @ApiHeader({ name: ACTOR_HEADER, required: false })
  @ApiResponse({ status: 200, schema: schemaOf(poolOpResults['pool.remove']) })
  @ApiProblems(400, 401, 404, 409, 502, 503, 504)
  remove(@Param('pool') pool: string, @Headers(ACTOR_HEADER) actor?: string): Promise<PoolOpResults['pool.remove']> {
    return this.forward('pool.remove', poolRequest('pool.remove', {}, { pool, actor: this.actor(actor) }));
  }

  @Get(':pool/schedules')
  @ApiOperation({ summary: 'The snapshot schedules of a pool' })
  @ApiParam({ name: 'pool', schema: ref('PoolName') })
  @ApiResponse({ status: 200, schema: schemaOf(z.array(snapshotScheduleSchema)) })
  @ApiProblems(400, 404, 502, 503, 504)
  async schedules(@Param('pool') pool: string): Promise<SnapshotSchedule[]> {
    return (await this.forward('pool.get', poolRequest('pool.get', {}, { pool }))).snapshotSchedules ?? [];
  }

  @Post(':pool/schedules')
  @ApiAuthenticated()
  @HttpCode(200)
  @ApiOperation({
    summary: 'Add a snapshot schedule to a pool (or change the one of that name)',
    description: 'Every `every` a recursive snapshot of the pool on the node that serves it, the newest `keep` kept; the schedule follows the pool through moves and failovers.',
  })
  @ApiParam({ name: 'pool', schema: ref('PoolName') })
  @ApiHeader({ name: ACTOR_HEADER, required: false })
  @ApiBody({ schema: ref('AddScheduleRequest') })
  @ApiResponse({ status: 200, description: 'The pool, with its schedules', schema: schemaOf(poolOpResults['pool.schedule-add']) })
  @ApiProblems(400, 401, 404, 409, 502, 503, 504)
  scheduleAdd(@Param('pool') pool: string, @Body() body: unknown, @Headers(ACTOR_HEADER) actor?: string): Promise<PoolOpResults['pool.schedule-add']> {
    return this.forward('pool.schedule-add', poolRequest('pool.schedule-add', body, { pool, actor: this.actor(actor) }));
  }

  @Delete(':pool/schedules/:name')
  @ApiAuthenticated()
  @ApiOperation({ summary: 'Remove a snapshot schedule of a pool (the snapshots it took stay)' })
  @ApiParam({ name: 'pool', schema: ref('PoolName') })
  @ApiParam({ name: 'name', schema: ref('ScheduleName') })
  @ApiHeader({ name: ACTOR_HEADER, required: false })
  @ApiResponse({ status: 200, description: 'The pool, with its schedules', schema: schemaOf(poolOpResults['pool.schedule-remove']) })
  @ApiProblems(400, 401, 404, 409, 502, 503, 504)
  scheduleRemove(@Param('pool') pool: string, @Param('name') name: string, @Headers(ACTOR_HEADER) actor?: string): Promise<PoolOpResults['pool.schedule-remove']> {
    return this.forward('pool.schedule-remove', poolRequest('pool.schedule-remove', {}, { pool, name, actor: this.actor(actor) }));
  }
}
