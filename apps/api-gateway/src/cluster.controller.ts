import { Body, Controller, Delete, Get, Headers, HttpCode, Inject, Param, Post, Put } from '@nestjs/common';
import { ApiBody, ApiHeader, ApiOperation, ApiParam, ApiResponse, ApiTags } from '@nestjs/swagger';
import {
  ACTOR_HEADER,
  API_PREFIX,
  ErrorCode,
  PEER_TOKEN_TIMEOUT_MS,
  SERVICES,
  TandemError,
  actorSchema,
  clusterOpRequests,
  clusterOpResults,
  joinClusterRequestSchema,
  nodeIdSchema,
  type ClusterOpResults,
  type ClusterOperation,
  type ClusterStatus,
  type JoinClusterRequest,
} from '@tandem/contracts';
import { inSpan } from '@tandem/telemetry';
import { ResourceManagerClient } from '@tandem/messaging';
import { SERVICE_CONTEXT, type ServiceContext } from '@tandem/service-kit';
import { GATEWAY_CONFIG, type GatewayConfig } from './config';
import { ApiAuthenticated, ApiProblems, ref, schemaOf } from './openapi';
import { PeerGateway } from './peer';
import { ProblemException, problem, problemFromTandemError } from './problem';
import { askResourceManager, contractRequest, parseBody, pathParam } from './resource-manager';

/** Taking a node offline moves its pools away first (each a whole move); everything else is quick. */
export const NODE_OFFLINE_TIMEOUT_MS = 120_000;
export const CLUSTER_TIMEOUT_MS = 30_000;
/** The peer's gateway waits up to CLUSTER_TIMEOUT_MS for its resource-manager: leave it room to answer. */
export const PEER_JOIN_TIMEOUT_MS = CLUSTER_TIMEOUT_MS + 10_000;

/** The request for a cluster operation: the body plus what the gateway sets (see contractRequest). */
export function clusterRequest(op: ClusterOperation, body: unknown, set: Record<string, unknown>, why: Record<string, string> = {}): Record<string, unknown> {
  return contractRequest(clusterOpRequests[op], body, set, why);
}

/** The body of POST /api/v1/cluster/join, checked before anything is sent: 400 naming the field. */
export function joinRequest(body: unknown): JoinClusterRequest {
  return parseBody(joinClusterRequestSchema, body);
}

/**
 * The status as this gateway's node sees it: the resource-manager that computed it may run on
 * another node, so `answeredBy` and each node's `thisNode` are set here.
 */
export function asSeenFrom(status: ClusterStatus, nodeId: string): ClusterStatus {
  return { ...status, answeredBy: nodeId, nodes: status.nodes.map((n) => ({ ...n, thisNode: n.id === nodeId })) };
}

const CHECK = 'check tandem cluster status and the activity log';

/**
 * The cluster lifecycle: forming the cluster on this gateway's node, joining nodes, its status,
 * taking nodes offline and back, removing them, maintenance mode. Everything but the join of
 * this node goes to the active resource-manager over NATS, like the pool operations.
 */
@ApiTags('cluster')
@Controller(API_PREFIX.slice(1))
export class ClusterController {
  constructor(
    @Inject(SERVICE_CONTEXT) private readonly ctx: ServiceContext,
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
    private readonly rm: ResourceManagerClient,
  ) {}

  private get nodeId(): string {
    return this.ctx.config.nodeId;
  }

  private actor(header: string | undefined): string {
    return header !== undefined && actorSchema.safeParse(header).success ? header : `api@${this.nodeId}`;
  }

  private forward<O extends ClusterOperation>(op: O, payload: Record<string, unknown>): Promise<ClusterOpResults[O]> {
    return askResourceManager(this.rm, op, payload, {
      timeoutMs: op === 'node.offline' ? NODE_OFFLINE_TIMEOUT_MS : CLUSTER_TIMEOUT_MS,
      check: CHECK,
      attributes: typeof payload.node === 'string' ? { 'tandem.node': payload.node } : {},
    });
  }

  @Post('cluster')
  @ApiAuthenticated()
  @ApiOperation({
    summary: "Form the cluster on this gateway's node",
    description:
      'Creates the cluster with this node as its first member. `heartbeatInterface` must exist on this node, and on every node that joins later, under the same name; ' +
      "the node's address on it is its heartbeat address (the address other nodes give as `peer` to join).",
  })
  @ApiHeader({ name: ACTOR_HEADER, required: false, description: 'Who asks, for the activity log (default api@<node>)' })
  @ApiBody({ schema: ref('CreateClusterRequest') })
  @ApiResponse({ status: 201, description: 'The cluster, with this node as its only member', schema: schemaOf(clusterOpResults['cluster.create']) })
  @ApiProblems(400, 401, 409, 502, 503, 504)
  create(@Body() body: unknown, @Headers(ACTOR_HEADER) actor?: string): Promise<ClusterOpResults['cluster.create']> {
    const req = clusterRequest(
      'cluster.create',
      body,
      { node: this.nodeId, actor: this.actor(actor) },
      { node: `is this gateway's node (${this.nodeId}): ask the api-gateway of the node that forms the cluster` },
    );
    return this.forward('cluster.create', req);
  }

  @Get('cluster')
  @ApiOperation({
    summary: 'The cluster, its nodes, their state and health',
    description: '`cluster` is null while there is none. `answeredBy` and `thisNode` are the node of the gateway that answered.',
  })
  @ApiResponse({ status: 200, schema: schemaOf(clusterOpResults['cluster.status']) })
  @ApiProblems(502, 503, 504)
  async status(): Promise<ClusterStatus> {
    return asSeenFrom(await this.forward('cluster.status', clusterRequest('cluster.status', {}, {})), this.nodeId);
  }

  @Post('cluster/nodes')
  @ApiAuthenticated()
  @ApiOperation({
    summary: 'Add a node to the cluster (the peer side of a join)',
    description:
      "Called by the joining node's gateway (POST /api/v1/cluster/join there). The node must answer and have the cluster's heartbeat interface; " +
      'it is added in one compare-and-set of the cluster record, or not at all.',
  })
  @ApiHeader({ name: ACTOR_HEADER, required: false })
  @ApiBody({ schema: ref('AddNodeRequest') })
  @ApiResponse({ status: 201, description: 'The cluster with the node added', schema: schemaOf(clusterOpResults['cluster.join']) })
  @ApiProblems(400, 401, 404, 409, 502, 503, 504)
  addNode(@Body() body: unknown, @Headers(ACTOR_HEADER) actor?: string): Promise<ClusterOpResults['cluster.join']> {
    return this.forward('cluster.join', clusterRequest('cluster.join', body, { actor: this.actor(actor) }));
  }

  @Post('cluster/join')
  @ApiAuthenticated()
  @HttpCode(200)
  @ApiOperation({
    summary: "Join this gateway's node to the cluster of the node at `peer`",
    description:
      `Refused (409) when this node is already in a cluster. Otherwise gets a token, over HTTPS, from the api-gateway at \`peer\` (its heartbeat address; port: TANDEM_PEER_API_PORT, ` +
      `default this gateway's own) with \`password\`, that node's admin password (within ${PEER_TOKEN_TIMEOUT_MS / 1000} s), then asks it to add this node ` +
      '(POST /api/v1/cluster/nodes) and answers what it answered. A wrong password is 401 naming `password`; a peer that cannot be reached is 502 naming `peer`. ' +
      "The peer's certificate must have the SHA-256 fingerprint `peerFingerprint` before anything is sent: without it 400, another one 409 HOST_KEY_REFUSED, both naming `peerFingerprint` and the fingerprint shown.",
  })
  @ApiHeader({ name: ACTOR_HEADER, required: false })
  @ApiBody({ schema: ref('JoinClusterRequest') })
  @ApiResponse({ status: 200, description: 'Joined: the cluster with this node added', schema: schemaOf(clusterOpResults['cluster.join']) })
  @ApiProblems(400, 401, 404, 409, 502, 503, 504)
  async join(@Body() body: unknown, @Headers(ACTOR_HEADER) actorHeader?: string): Promise<ClusterOpResults['cluster.join']> {
    const { peer, password, peerFingerprint } = joinRequest(body);
    const actor = this.actor(actorHeader);
    const port = this.config.peerApiPort ?? this.ctx.config.healthPort ?? SERVICES['api-gateway'].healthPort;
    return inSpan('api cluster.join this node', { 'tandem.node': this.nodeId, 'tandem.peer': peer }, async (span) => {
      const traceId = span.spanContext().traceId;
      try {
        const current = await this.statusIfAnswered();
        if (current?.cluster && current.nodes.some((n) => n.id === this.nodeId)) {
          throw new ProblemException(problem(ErrorCode.AlreadyExists, 409, `this node is already in cluster ${current.cluster.id} (as ${this.nodeId})`, { traceId }));
        }
        const gateway = new PeerGateway(peer, port, PEER_JOIN_TIMEOUT_MS, peerFingerprint);
        const token = await gateway.token(password);
        return await gateway.addNode(token, this.nodeId, actor);
      } catch (err) {
        if (err instanceof ProblemException && err.problem.traceId === undefined) throw new ProblemException({ ...err.problem, traceId });
        if (err instanceof TandemError) throw new ProblemException(problemFromTandemError(err, traceId));
        throw err;
      }
    });
  }

  /**
   * The cluster status, or null when no resource-manager answers it: then whether this node is
   * already a member cannot be told here, and the peer's resource-manager (which refuses a node
   * already in its cluster) decides.
   */
  private async statusIfAnswered(): Promise<ClusterStatus | null> {
    try {
      return await this.forward('cluster.status', {});
    } catch (err) {
      if (err instanceof ProblemException && (err.problem.title === ErrorCode.Unavailable || err.problem.title === ErrorCode.Timeout)) return null;
      throw err;
    }
  }

  @Put('cluster/maintenance')
  @ApiAuthenticated()
  @HttpCode(200)
  @ApiOperation({ summary: 'Maintenance mode on or off', description: 'While on, nothing moves automatically; operators still move pools and nodes by hand.' })
  @ApiHeader({ name: ACTOR_HEADER, required: false })
  @ApiBody({ schema: ref('MaintenanceRequest') })
  @ApiResponse({ status: 200, description: 'The cluster', schema: schemaOf(clusterOpResults['maintenance.set']) })
  @ApiProblems(400, 401, 404, 502, 503, 504)
  maintenance(@Body() body: unknown, @Headers(ACTOR_HEADER) actor?: string): Promise<ClusterOpResults['maintenance.set']> {
    return this.forward('maintenance.set', clusterRequest('maintenance.set', body, { actor: this.actor(actor) }));
  }

  @Post('auth/revoke-tokens')
  @ApiTags('auth')
  @ApiAuthenticated()
  @HttpCode(200)
  @ApiOperation({
    summary: 'Revoke every API token issued until now',
    description:
      "Every node's gateway refuses, from moments later on, every token issued up to now (including the one that asked; logins with the password go on). " +
      'Written into the cluster record by the active resource-manager and recorded in the activity log.',
  })
  @ApiHeader({ name: ACTOR_HEADER, required: false })
  @ApiBody({ schema: ref('RevokeTokensRequest'), required: false })
  @ApiResponse({ status: 200, description: 'When the revocation took effect', schema: schemaOf(clusterOpResults['auth.revoke-tokens']) })
  @ApiProblems(400, 401, 404, 502, 503, 504)
  revokeTokens(@Body() body: unknown, @Headers(ACTOR_HEADER) actor?: string): Promise<ClusterOpResults['auth.revoke-tokens']> {
    return this.forward('auth.revoke-tokens', clusterRequest('auth.revoke-tokens', body, { actor: this.actor(actor) }));
  }

  @Post('nodes/:node/offline')
  @ApiAuthenticated()
  @HttpCode(200)
  @ApiOperation({
    summary: 'Take a node offline',
    description:
      'Its serving pools move to the least loaded online nodes first (waits up to 120 s); if one cannot be moved the node stays online. ' +
      'Taking the last online node offline ends the cluster: the shares stop, every pool is exported and the cluster record is removed.',
  })
  @ApiParam({ name: 'node', schema: ref('NodeId') })
  @ApiHeader({ name: ACTOR_HEADER, required: false })
  @ApiBody({ schema: ref('NodeOfflineRequest'), required: false })
  @ApiResponse({ status: 200, description: 'Offline: where its pools went, or that the cluster ended', schema: schemaOf(clusterOpResults['node.offline']) })
  @ApiProblems(400, 401, 404, 409, 502, 503, 504)
  offline(@Param('node') node: string, @Body() body: unknown, @Headers(ACTOR_HEADER) actor?: string): Promise<ClusterOpResults['node.offline']> {
    return this.forward('node.offline', clusterRequest('node.offline', body, { node: pathParam('node', node, nodeIdSchema), actor: this.actor(actor) }));
  }

  @Post('nodes/:node/online')
  @ApiAuthenticated()
  @HttpCode(200)
  @ApiOperation({ summary: 'Bring an offline node back online', description: 'The node must answer and have the heartbeat interface. Pools do not move back by themselves.' })
  @ApiParam({ name: 'node', schema: ref('NodeId') })
  @ApiHeader({ name: ACTOR_HEADER, required: false })
  @ApiBody({ schema: ref('NodeOnlineRequest'), required: false })
  @ApiResponse({ status: 200, description: 'The cluster', schema: schemaOf(clusterOpResults['node.online']) })
  @ApiProblems(400, 401, 404, 409, 502, 503, 504)
  online(@Param('node') node: string, @Body() body: unknown, @Headers(ACTOR_HEADER) actor?: string): Promise<ClusterOpResults['node.online']> {
    return this.forward('node.online', clusterRequest('node.online', body, { node: pathParam('node', node, nodeIdSchema), actor: this.actor(actor) }));
  }

  @Delete('nodes/:node')
  @ApiAuthenticated()
  @ApiOperation({ summary: 'Remove a node from the cluster (take it offline first)' })
  @ApiParam({ name: 'node', schema: ref('NodeId') })
  @ApiHeader({ name: ACTOR_HEADER, required: false })
  @ApiResponse({ status: 200, description: 'The cluster without the node', schema: schemaOf(clusterOpResults['node.remove']) })
  @ApiProblems(400, 401, 404, 502, 503, 504)
  remove(@Param('node') node: string, @Headers(ACTOR_HEADER) actor?: string): Promise<ClusterOpResults['node.remove']> {
    return this.forward('node.remove', clusterRequest('node.remove', {}, { node: pathParam('node', node, nodeIdSchema), actor: this.actor(actor) }));
  }
}
