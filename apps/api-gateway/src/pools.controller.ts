import { Body, Controller, Delete, Get, Headers, HttpCode, Inject, Param, Post } from '@nestjs/common';
import { ApiBody, ApiHeader, ApiOperation, ApiParam, ApiResponse, ApiTags } from '@nestjs/swagger';
import {
  ACTOR_HEADER,
  ApiPaths,
  ErrorCode,
  TandemError,
  actorSchema,
  describeZodError,
  poolOpRequests,
  poolOpSubject,
  type PoolOpResults,
  type PoolOperation,
} from '@tandem/contracts';
import { requestReply } from '@tandem/messaging';
import { inSpan } from '@tandem/telemetry';
import { SERVICE_CONTEXT, type ServiceContext } from '@tandem/service-kit';
import { ApiAuthenticated, ApiProblems, ref } from './openapi';
import { ProblemException, problemFromTandemError } from './problem';

/** Mutating operations may take a whole export + import + shares; reads must be quick. */
export const MUTATING_TIMEOUT_MS = 120_000;
export const READ_TIMEOUT_MS = 10_000;

const READS = new Set<PoolOperation>(['pool.list', 'pool.get']);

/**
 * The request the resource-manager gets: the body (an object, or nothing) plus the fields the
 * gateway sets itself. Validated with the contract schema before anything is sent; the
 * validated *input* is forwarded, the resource-manager parses it with the same schema.
 */
export function poolRequest(op: PoolOperation, body: unknown, set: Record<string, unknown>): Record<string, unknown> {
  const b: unknown = body ?? {};
  if (typeof b !== 'object' || b === null || Array.isArray(b)) throw new TandemError(ErrorCode.InvalidArgument, '(body): must be a JSON object', '(body)');
  for (const k of Object.keys(set)) {
    if (Object.prototype.hasOwnProperty.call(b, k)) {
      const why = k === 'actor' ? `set by the gateway (send the ${ACTOR_HEADER} header instead)` : 'is taken from the path, not the body';
      throw new TandemError(ErrorCode.InvalidArgument, `${k}: ${why}`, k);
    }
  }
  const req = { ...(b as Record<string, unknown>), ...set };
  const r = poolOpRequests[op].safeParse(req);
  if (!r.success) {
    const { field, message } = describeZodError(r.error);
    throw new TandemError(ErrorCode.InvalidArgument, message, field);
  }
  return req;
}

@ApiTags('pools')
@Controller(ApiPaths.pools.slice(1))
export class PoolsController {
  constructor(@Inject(SERVICE_CONTEXT) private readonly ctx: ServiceContext) {}

  private actor(header: string | undefined): string {
    return header !== undefined && actorSchema.safeParse(header).success ? header : `api@${this.ctx.config.nodeId}`;
  }

  /** Forward to the active resource-manager; errors become problem details carrying the trace id. */
  private forward<O extends PoolOperation>(op: O, payload: Record<string, unknown>): Promise<PoolOpResults[O]> {
    const timeout = READS.has(op) ? READ_TIMEOUT_MS : MUTATING_TIMEOUT_MS;
    return inSpan(`api ${op}`, { 'tandem.operation': op, 'tandem.pool': String(payload.pool ?? '') }, async (span) => {
      try {
        return await requestReply<PoolOpResults[O]>(this.ctx.nc, poolOpSubject(op), payload, timeout);
      } catch (err) {
        if (!(err instanceof TandemError)) throw err;
        const e =
          err.code === ErrorCode.Unavailable
            ? new TandemError(ErrorCode.Unavailable, `no resource-manager answers ${op}: none is running, or the cluster is electing one — retry in a few seconds`)
            : err.code === ErrorCode.Timeout
              ? new TandemError(ErrorCode.Timeout, `the resource-manager did not answer ${op} within ${timeout / 1000} s; it may still be running: check the pool and the activity log`)
              : err;
        throw new ProblemException(problemFromTandemError(e, span.spanContext().traceId));
      }
    });
  }

  @Get()
  @ApiOperation({ summary: 'List the HA pools under cluster control' })
  @ApiResponse({ status: 200, schema: { type: 'array', items: ref('HaPool') } })
  @ApiProblems(502, 503, 504)
  list(): Promise<PoolOpResults['pool.list']> {
    return this.forward('pool.list', poolRequest('pool.list', {}, {}));
  }

  @Get(':pool')
  @ApiOperation({ summary: 'One HA pool' })
  @ApiParam({ name: 'pool', schema: ref('PoolName') })
  @ApiResponse({ status: 200, schema: ref('HaPool') })
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
  @ApiResponse({ status: 201, description: 'Attached and serving', schema: ref('HaPool') })
  @ApiProblems(400, 401, 404, 409, 502, 503, 504)
  attach(@Body() body: unknown, @Headers(ACTOR_HEADER) actor?: string): Promise<PoolOpResults['pool.attach']> {
    return this.forward('pool.attach', poolRequest('pool.attach', body, { actor: this.actor(actor) }));
  }

  @Post(':pool/move')
  @ApiAuthenticated()
  @HttpCode(200)
  @ApiOperation({ summary: 'Move a serving pool to another node', description: 'Shares, floating IPs and the import move to the target node under a new fencing epoch.' })
  @ApiParam({ name: 'pool', schema: ref('PoolName') })
  @ApiHeader({ name: ACTOR_HEADER, required: false })
  @ApiBody({ schema: ref('MovePoolRequest') })
  @ApiResponse({ status: 200, description: 'Serving on the target node', schema: ref('HaPool') })
  @ApiProblems(400, 401, 404, 409, 502, 503, 504)
  move(@Param('pool') pool: string, @Body() body: unknown, @Headers(ACTOR_HEADER) actor?: string): Promise<PoolOpResults['pool.move']> {
    return this.forward('pool.move', poolRequest('pool.move', body, { pool, actor: this.actor(actor) }));
  }

  @Post(':pool/detach')
  @ApiAuthenticated()
  @HttpCode(200)
  @ApiOperation({ summary: 'Detach: drop the pool from cluster control, leaving it imported and served where it is (unmanaged)' })
  @ApiParam({ name: 'pool', schema: ref('PoolName') })
  @ApiHeader({ name: ACTOR_HEADER, required: false })
  @ApiBody({ schema: ref('EmptyRequest'), required: false })
  @ApiResponse({ status: 200, schema: ref('DetachResult') })
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
  @ApiBody({ schema: ref('EmptyRequest'), required: false })
  @ApiResponse({ status: 200, schema: ref('HaPool') })
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
  @ApiResponse({ status: 200, schema: ref('HaPool') })
  @ApiProblems(400, 401, 404, 409, 502, 503, 504)
  reattach(@Param('pool') pool: string, @Body() body: unknown, @Headers(ACTOR_HEADER) actor?: string): Promise<PoolOpResults['pool.reattach']> {
    return this.forward('pool.reattach', poolRequest('pool.reattach', body, { pool, actor: this.actor(actor) }));
  }

  @Delete(':pool')
  @ApiAuthenticated()
  @ApiOperation({ summary: 'Remove: drop an inactive pool from cluster control (export it first)' })
  @ApiParam({ name: 'pool', schema: ref('PoolName') })
  @ApiHeader({ name: ACTOR_HEADER, required: false })
  @ApiResponse({ status: 200, schema: ref('RemoveResult') })
  @ApiProblems(400, 401, 404, 409, 502, 503, 504)
  remove(@Param('pool') pool: string, @Headers(ACTOR_HEADER) actor?: string): Promise<PoolOpResults['pool.remove']> {
    return this.forward('pool.remove', poolRequest('pool.remove', {}, { pool, actor: this.actor(actor) }));
  }
}

