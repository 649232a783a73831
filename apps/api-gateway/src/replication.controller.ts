import { Body, Controller, Get, Headers, HttpCode, Inject, Param, Post, Put, Query } from '@nestjs/common';
import { ApiBody, ApiHeader, ApiOperation, ApiParam, ApiQuery, ApiResponse, ApiTags } from '@nestjs/swagger';
import {
  ACTOR_HEADER,
  API_PREFIX,
  ErrorCode,
  TandemError,
  actorSchema,
  clusterOpRequests,
  clusterOpResults,
  nodeIdSchema,
  poolNameSchema,
  replicationPoolStatusSchema,
  type ClusterOpResults,
  type ReplicationPoolStatus,
} from '@tandem/contracts';
import { ResourceManagerClient } from '@tandem/messaging';
import { SERVICE_CONTEXT, type ServiceContext } from '@tandem/service-kit';
import { ApiAuthenticated, ApiProblems, ref, schemaOf } from './openapi';
import { askResourceManager, contractRequest, pathParam } from './resource-manager';

/** Status and settings are reads of the pool and replication records. */
export const REPLICATION_READ_TIMEOUT_MS = 10_000;
/** A settings change or a resume: compare-and-set on the records, nothing on the nodes. */
export const REPLICATION_CHANGE_TIMEOUT_MS = 30_000;
/** A key rotation asks the node twice (prepare, commit; up to 30 s each) and pins its keys in between. */
export const KEYS_ROTATE_TIMEOUT_MS = 90_000;

export type ReplicationOperation = 'replication.settings' | 'replication.status' | 'replication.resume' | 'replication.keys-rotate';

/** The request for a replication operation: the body plus what the gateway sets (see contractRequest). */
export function replicationRequest(op: ReplicationOperation, body: unknown, set: Record<string, unknown>): Record<string, unknown> {
  return contractRequest(clusterOpRequests[op], body, set);
}

/**
 * GET /api/v1/replication/settings[?pool=P] only shows: its one query parameter is `pool` (a
 * change is a PUT, authenticated), checked with the contract.
 */
export function settingsQuery(query: Record<string, unknown>): Record<string, unknown> {
  const other = Object.keys(query).find((k) => k !== 'pool');
  if (other !== undefined) throw new TandemError(ErrorCode.InvalidArgument, `${other}: unknown query parameter (change settings with PUT ${API_PREFIX}/replication/settings)`, other);
  if (query.pool === undefined) return replicationRequest('replication.settings', {}, {});
  if (typeof query.pool !== 'string') throw new TandemError(ErrorCode.InvalidArgument, 'pool: give one pool', 'pool');
  return replicationRequest('replication.settings', {}, { pool: pathParam('pool', query.pool, poolNameSchema) });
}

/** The pool asked for in a replication.status answer (the resource-manager answers a list). */
export function onePool(statuses: ReplicationPoolStatus[], pool: string): ReplicationPoolStatus {
  const s = statuses.find((x) => x.pool === pool);
  if (!s) throw new TandemError(ErrorCode.PoolNotFound, `pool ${pool} is not a replicated pool under cluster control`, 'pool');
  return s;
}

const CHECK_STATUS = 'check tandem replication status and the activity log';

/**
 * Shared-nothing (replicated) pools: their replication status, resuming sync after an automatic
 * failover locked it, the schedule settings (cluster-wide or per pool) and rotating a node's
 * replication keys. Everything goes to the active resource-manager over NATS; the schedules
 * themselves run in the replication-scheduler.
 */
@ApiTags('replication')
@Controller(API_PREFIX.slice(1))
export class ReplicationController {
  constructor(
    @Inject(SERVICE_CONTEXT) private readonly ctx: ServiceContext,
    private readonly rm: ResourceManagerClient,
  ) {}

  private actor(header: string | undefined): string {
    return header !== undefined && actorSchema.safeParse(header).success ? header : `api@${this.ctx.config.nodeId}`;
  }

  private forward<O extends ReplicationOperation>(op: O, payload: Record<string, unknown>, timeoutMs: number, check: string): Promise<ClusterOpResults[O]> {
    const attributes: Record<string, string> = {};
    if (typeof payload.pool === 'string') attributes['tandem.pool'] = payload.pool;
    if (typeof payload.node === 'string') attributes['tandem.node'] = payload.node;
    return askResourceManager(this.rm, op, payload, { timeoutMs, check, attributes });
  }

  @Get('replication')
  @ApiOperation({
    summary: 'The replication of every replicated pool',
    description:
      'Per pool: the active node, the direction, the worst state of its replicas, the schedule, and the replication record (lag, newest common snapshot, last transfer, next pull per replica).',
  })
  @ApiResponse({ status: 200, schema: schemaOf(clusterOpResults['replication.status']) })
  @ApiProblems(404, 502, 503, 504)
  list(): Promise<ClusterOpResults['replication.status']> {
    return this.forward('replication.status', replicationRequest('replication.status', {}, {}), REPLICATION_READ_TIMEOUT_MS, CHECK_STATUS);
  }

  // Declared before replication/:pool, which would otherwise take `settings` for a pool name.
  @Get('replication/settings')
  @ApiOperation({
    summary: 'The replication settings: cluster-wide, or as they apply to one pool',
    description:
      'The schedule (a pool’s own overrides, then the cluster’s, then the defaults), the replication SSH port and addresses, the rollback window (snapshot interval × retention) and the passive-down limit, with warnings.',
  })
  @ApiQuery({ name: 'pool', required: false, description: 'A replicated pool: the settings as they apply to it', schema: ref('PoolName') })
  @ApiResponse({ status: 200, schema: schemaOf(clusterOpResults['replication.settings']) })
  @ApiProblems(400, 404, 502, 503, 504)
  settings(@Query() query: Record<string, unknown>): Promise<ClusterOpResults['replication.settings']> {
    return this.forward('replication.settings', settingsQuery(query), REPLICATION_READ_TIMEOUT_MS, 'check tandem cluster status');
  }

  @Put('replication/settings')
  @ApiAuthenticated()
  @HttpCode(200)
  @ApiOperation({
    summary: 'Change the replication settings, cluster-wide or of one pool (`pool`)',
    description:
      'Durations are `30s`, `15m`, `2h`, `1d` or seconds. Only the fields given change; with none, the settings are shown. `sshAddresses` (NODE → IP) is cluster-wide only. ' +
      'A new snapshot interval takes effect when the running timer next fires (`notes` says when).',
  })
  @ApiHeader({ name: ACTOR_HEADER, required: false, description: 'Who asks, for the activity log (default api@<node>)' })
  @ApiBody({ schema: ref('ReplicationSettingsRequest'), required: false })
  @ApiResponse({ status: 200, description: 'The settings as they apply now, with notes on when a change takes effect', schema: schemaOf(clusterOpResults['replication.settings']) })
  @ApiProblems(400, 401, 404, 409, 502, 503, 504)
  changeSettings(@Body() body: unknown, @Headers(ACTOR_HEADER) actor?: string): Promise<ClusterOpResults['replication.settings']> {
    return this.forward(
      'replication.settings',
      replicationRequest('replication.settings', body, { actor: this.actor(actor) }),
      REPLICATION_CHANGE_TIMEOUT_MS,
      'check tandem replication settings and the activity log',
    );
  }

  @Get('replication/:pool')
  @ApiOperation({ summary: 'The replication of one replicated pool', description: 'A pool named `settings` is read through GET /api/v1/replication.' })
  @ApiParam({ name: 'pool', schema: ref('PoolName') })
  @ApiResponse({ status: 200, schema: schemaOf(replicationPoolStatusSchema) })
  @ApiProblems(400, 404, 502, 503, 504)
  async get(@Param('pool') pool: string): Promise<ReplicationPoolStatus> {
    const req = replicationRequest('replication.status', {}, { pool: pathParam('pool', pool, poolNameSchema) });
    return onePool(await this.forward('replication.status', req, REPLICATION_READ_TIMEOUT_MS, CHECK_STATUS), pool);
  }

  @Post('replication/:pool/resume')
  @ApiAuthenticated()
  @HttpCode(200)
  @ApiOperation({
    summary: 'Resume sync after an automatic failover locked it',
    description:
      'After a failover the new active may lack the last writes of the old one: sync stays locked until an operator has looked. ' +
      'Resuming keeps the old node’s diverged data aside (never destroyed) and syncs again, from the new active.',
  })
  @ApiParam({ name: 'pool', schema: ref('PoolName') })
  @ApiHeader({ name: ACTOR_HEADER, required: false })
  @ApiBody({ schema: ref('ResumeReplicationRequest'), required: false })
  @ApiResponse({ status: 200, description: 'The pool’s replication, no longer locked', schema: schemaOf(clusterOpResults['replication.resume']) })
  @ApiProblems(400, 401, 404, 409, 502, 503, 504)
  resume(@Param('pool') pool: string, @Body() body: unknown, @Headers(ACTOR_HEADER) actor?: string): Promise<ClusterOpResults['replication.resume']> {
    const req = replicationRequest('replication.resume', body, { pool: pathParam('pool', pool, poolNameSchema), actor: this.actor(actor) });
    return this.forward('replication.resume', req, REPLICATION_CHANGE_TIMEOUT_MS, CHECK_STATUS);
  }

  @Post('nodes/:node/replication-keys/rotate')
  @ApiAuthenticated()
  @HttpCode(200)
  @ApiOperation({
    summary: "Replace a node's replication SSH keys",
    description: 'The node makes new keys; they are pinned beside the old ones on every node, the node switches to them, then the old ones are dropped: replication never pauses.',
  })
  @ApiParam({ name: 'node', schema: ref('NodeId') })
  @ApiHeader({ name: ACTOR_HEADER, required: false })
  @ApiBody({ schema: ref('RotateKeysRequest'), required: false })
  @ApiResponse({ status: 200, description: 'The new keys, pinned', schema: schemaOf(clusterOpResults['replication.keys-rotate']) })
  @ApiProblems(400, 401, 404, 502, 503, 504)
  rotateKeys(@Param('node') node: string, @Body() body: unknown, @Headers(ACTOR_HEADER) actor?: string): Promise<ClusterOpResults['replication.keys-rotate']> {
    const req = replicationRequest('replication.keys-rotate', body, { node: pathParam('node', node, nodeIdSchema), actor: this.actor(actor) });
    return this.forward('replication.keys-rotate', req, KEYS_ROTATE_TIMEOUT_MS, 'the rotation may still be running (the old keys stay valid until it ends): check tandem log');
  }
}
