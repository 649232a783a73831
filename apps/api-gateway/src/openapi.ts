import { applyDecorators, Injectable, type INestApplication, type OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { ApiBasicAuth, ApiBearerAuth, ApiResponse, DocumentBuilder, SwaggerModule, type OpenAPIObject, type ReferenceObject, type SchemaObject } from '@nestjs/swagger';
import { ZodDefault, ZodEffects, ZodOptional, ZodString, type ZodTypeAny } from 'zod';
import {
  ADMIN_USER,
  ApiPaths,
  ErrorCode,
  TandemError,
  PEER_TOKEN_TIMEOUT_MS,
  PROBLEM_CONTENT_TYPE,
  TOKEN_TTL_MS,
  actorSchema,
  interfaceNameSchema,
  nodeIdSchema,
  poolNameSchema,
  shareNameSchema,
  shareSpecSchema,
} from '@tandem/contracts';

/**
 * The OpenAPI description, written by hand to match the zod contracts: name patterns are read
 * from the contract schemas themselves, so they cannot drift.
 */

/** The regular expression of a zod string schema (through refinements and defaults). */
export function patternOf(schema: ZodTypeAny): string {
  let s: ZodTypeAny = schema;
  for (;;) {
    if (s instanceof ZodEffects) s = s.innerType();
    else if (s instanceof ZodDefault) s = s._def.innerType;
    else if (s instanceof ZodOptional) s = s.unwrap();
    else break;
  }
  if (s instanceof ZodString) {
    for (const c of s._def.checks) if (c.kind === 'regex') return c.regex.source;
  }
  throw new Error('schema has no pattern');
}

/** A reference to a component schema (usable wherever the decorators want a schema). */
export function ref(name: keyof typeof SCHEMAS): SchemaObject & ReferenceObject {
  return { $ref: `#/components/schemas/${name}` } as SchemaObject & ReferenceObject;
}

const poolName: SchemaObject = {
  type: 'string',
  minLength: 1,
  maxLength: 200,
  pattern: patternOf(poolNameSchema),
  description: 'ZFS pool name: starts with a letter; letters, digits, _ . : -; not a reserved vdev word (mirror, raidz, spare, log, cache, c0...)',
  example: 'tank',
};
const nodeId: SchemaObject = { type: 'string', pattern: patternOf(nodeIdSchema), description: 'A node id', example: 'node-b' };
const interfaceName: SchemaObject = { type: 'string', pattern: patternOf(interfaceNameSchema), description: 'A Linux interface name', example: 'hb0' };
const clusterRecord: SchemaObject = {
  type: 'object',
  required: ['id', 'heartbeatInterface', 'maintenance', 'nodes', 'createdAt'],
  properties: {
    id: { type: 'string', example: 'tandem' },
    heartbeatInterface: interfaceName,
    maintenance: { type: 'boolean', description: 'While on, nothing moves automatically' },
    nodes: { type: 'array', items: { $ref: '#/components/schemas/ClusterMember' } },
    createdAt: { type: 'string', format: 'date-time' },
  },
};

export const SCHEMAS = {
  Problem: {
    type: 'object',
    description: `Problem details (RFC 9457), served as ${PROBLEM_CONTENT_TYPE}. \`title\` is the error code.`,
    required: ['type', 'title', 'status', 'detail'],
    properties: {
      type: { type: 'string', example: 'urn:tandem:error:POOL_NOT_FOUND', description: 'urn:tandem:error:<CODE>' },
      title: { type: 'string', enum: Object.values(ErrorCode), example: 'POOL_NOT_FOUND' },
      status: { type: 'integer', example: 404 },
      detail: { type: 'string', example: 'pool "tank" is not under cluster control' },
      field: { type: 'string', description: 'The request field that was wrong (dotted path, e.g. vips.0)', example: 'vips.0' },
      output: { type: 'string', description: 'Verbatim output of the tool that failed on a node, when there was one' },
      traceId: { type: 'string', description: 'Trace id of the request (activity log, tracing backend)' },
    },
  },
  PoolName: poolName,
  NodeId: nodeId,
  FloatingIp: {
    type: 'object',
    additionalProperties: false,
    required: ['interface', 'address', 'prefix'],
    properties: {
      interface: { type: 'string', pattern: patternOf(interfaceNameSchema), example: 'cli0' },
      address: { type: 'string', description: 'IPv4 or IPv6 address', example: '10.77.3.50' },
      prefix: { type: 'integer', minimum: 1, maximum: 128, example: 24 },
    },
  },
  ShareSpec: {
    type: 'object',
    additionalProperties: false,
    required: ['name', 'protocol'],
    properties: {
      name: { type: 'string', pattern: patternOf(shareNameSchema), example: 'data' },
      protocol: { type: 'string', enum: ['smb', 'nfs'] },
      path: { type: 'string', pattern: patternOf(shareSpecSchema.shape.path), default: '', description: "Relative to the pool's mountpoint ('' = the pool's root dataset); no '..'" },
      readOnly: { type: 'boolean', default: false },
    },
  },
  HaPool: {
    type: 'object',
    required: ['name', 'state', 'node', 'operation', 'reason', 'vips', 'shares', 'fc', 'epoch', 'mountpoint', 'updatedAt'],
    properties: {
      name: poolName,
      state: { type: 'string', enum: ['serving', 'in-transition', 'inactive'], description: 'serving: imported and served on `node`; in-transition: an operation runs; inactive: not served (see reason)' },
      node: { type: 'string', nullable: true, example: 'node-a' },
      operation: { type: 'string', nullable: true, description: 'What runs now, while in transition (attach, move, export, reattach ...)' },
      reason: { type: 'string', nullable: true },
      vips: { type: 'array', items: { $ref: '#/components/schemas/FloatingIp' } },
      shares: { type: 'array', items: { $ref: '#/components/schemas/ShareSpec' } },
      fc: { type: 'boolean' },
      epoch: { type: 'integer', description: 'Fencing epoch: grows with every change of owner' },
      mountpoint: { type: 'string', nullable: true },
      updatedAt: { type: 'string', format: 'date-time' },
    },
  },
  AttachPoolRequest: {
    type: 'object',
    additionalProperties: false,
    required: ['pool', 'node'],
    description: 'Put a pool under cluster control, served on `node`. Give at least one floating IP, or fc: true.',
    properties: {
      pool: poolName,
      node: nodeId,
      vips: {
        type: 'array',
        maxItems: 16,
        default: [],
        items: { type: 'string', description: 'INTERFACE:ADDRESS/PREFIX, prefix valid for the address family', example: 'cli0:10.77.3.50/24' },
      },
      fc: { type: 'boolean', default: false, description: 'Served over Fibre Channel' },
      shares: { type: 'array', maxItems: 32, default: [], items: { $ref: '#/components/schemas/ShareSpec' } },
    },
  },
  MovePoolRequest: { type: 'object', additionalProperties: false, required: ['to'], properties: { to: nodeId } },
  MarkUsableRequest: { type: 'object', additionalProperties: false, required: ['node'], properties: { node: nodeId } },
  ReattachPoolRequest: { type: 'object', additionalProperties: false, required: ['node'], properties: { node: nodeId } },
  EmptyRequest: { type: 'object', additionalProperties: false, properties: {}, description: 'No fields (the body may be omitted)' },
  DetachResult: { type: 'object', required: ['pool', 'node'], properties: { pool: poolName, node: { type: 'string', nullable: true, description: 'Where the pool stays imported, unmanaged' } } },
  RemoveResult: { type: 'object', required: ['pool'], properties: { pool: poolName } },
  InterfaceName: interfaceName,
  CreateClusterRequest: {
    type: 'object',
    additionalProperties: false,
    required: ['heartbeatInterface'],
    description: "The cluster is formed on the node of the gateway that is asked (its node id is not given).",
    properties: { heartbeatInterface: { ...interfaceName, description: 'The interface the nodes hear each other on; the same name on every node' } },
  },
  AddNodeRequest: { type: 'object', additionalProperties: false, required: ['node'], properties: { node: nodeId } },
  JoinClusterRequest: {
    type: 'object',
    additionalProperties: false,
    required: ['peer', 'password'],
    properties: {
      peer: { type: 'string', description: "IPv4 or IPv6 address (no zone) of a node of the cluster: its heartbeat address, where its api-gateway is called", example: '10.77.1.11' },
      password: { type: 'string', minLength: 1, maxLength: 1024, format: 'password', description: `The admin password of the node at \`peer\` (exchanged there for a token within ${PEER_TOKEN_TIMEOUT_MS / 1000} s; not stored)` },
    },
  },
  MaintenanceRequest: { type: 'object', additionalProperties: false, required: ['on'], properties: { on: { type: 'boolean' } } },
  ClusterMember: {
    type: 'object',
    required: ['id', 'heartbeatAddress', 'adminState', 'joinedAt'],
    properties: {
      id: nodeId,
      heartbeatAddress: { type: 'string', nullable: true, example: '10.77.1.11' },
      adminState: { type: 'string', enum: ['online', 'offline'], description: 'What the operator set: offline nodes serve nothing and receive nothing' },
      joinedAt: { type: 'string', format: 'date-time' },
    },
  },
  ClusterRecord: clusterRecord,
  NodeStatus: {
    type: 'object',
    required: ['id', 'state', 'health', 'healthDetail', 'thisNode', 'heartbeatAddress', 'heartbeatLink', 'pools'],
    properties: {
      id: nodeId,
      state: { type: 'string', enum: ['online', 'offline', 'down'], description: 'online: set online and answering; offline: taken offline by the operator; down: not answering' },
      health: { type: 'string', enum: ['healthy', 'degraded', 'unknown'] },
      healthDetail: { type: 'string', nullable: true, example: 'tank DEGRADED' },
      thisNode: { type: 'boolean', description: 'The node of the gateway that answered' },
      heartbeatAddress: { type: 'string', nullable: true },
      heartbeatLink: { type: 'string', enum: ['up', 'down', 'unknown'] },
      pools: { type: 'array', items: poolName, description: 'The HA pools it serves' },
    },
  },
  ClusterStatus: {
    type: 'object',
    required: ['cluster', 'answeredBy', 'nodes'],
    properties: {
      cluster: {
        type: 'object',
        nullable: true,
        description: 'null while there is no cluster',
        required: ['id', 'heartbeatInterface', 'maintenance', 'createdAt'],
        properties: { id: { type: 'string' }, heartbeatInterface: interfaceName, maintenance: { type: 'boolean' }, createdAt: { type: 'string', format: 'date-time' } },
      },
      answeredBy: { ...nodeId, description: 'The node of the gateway that answered' },
      nodes: { type: 'array', items: { $ref: '#/components/schemas/NodeStatus' } },
    },
  },
  NodeOfflineResult: {
    type: 'object',
    required: ['node', 'moved', 'clusterDestroyed', 'exported'],
    properties: {
      node: nodeId,
      moved: { type: 'array', items: { type: 'object', required: ['pool', 'to'], properties: { pool: poolName, to: nodeId } }, description: 'Where its pools went' },
      clusterDestroyed: { type: 'boolean', description: 'It was the last online node: the cluster ended' },
      exported: { type: 'array', items: poolName, description: 'Pools exported because the cluster ended' },
    },
  },
  TokenRequest: { type: 'object', additionalProperties: false, required: ['password'], properties: { password: { type: 'string', minLength: 1, maxLength: 1024, format: 'password' } } },
  TokenResponse: {
    type: 'object',
    required: ['token', 'expiresAt'],
    properties: {
      token: { type: 'string', description: 'Send as "Authorization: Bearer <token>"' },
      expiresAt: { type: 'string', format: 'date-time' },
    },
  },
  ActivityEntry: {
    type: 'object',
    required: ['id', 'at', 'actor', 'action', 'target', 'result', 'error', 'traceId', 'nodeId', 'eventId'],
    properties: {
      id: { type: 'string' },
      at: { type: 'string', format: 'date-time' },
      actor: { type: 'string', example: 'api@node-a' },
      action: { type: 'string', example: 'pool.move' },
      target: { type: 'string', example: 'tank' },
      result: { type: 'string', enum: ['started', 'succeeded', 'failed'] },
      error: { type: 'string', nullable: true },
      traceId: { type: 'string', nullable: true },
      nodeId: { type: 'string', nullable: true },
      eventId: { type: 'string', nullable: true },
    },
  },
  EventEnvelope: {
    type: 'object',
    required: ['schema', 'id', 'clusterId', 'at', 'traceparent', 'source', 'entity', 'data'],
    description: 'An event as published on tandem.evt.<entity>.<id>.<verb> (catalogue: libs/contracts/src/events.ts)',
    properties: {
      schema: { type: 'string', example: 'tandem.pool.changed/1' },
      id: { type: 'string' },
      clusterId: { type: 'string' },
      at: { type: 'string', format: 'date-time' },
      traceparent: { type: 'string', nullable: true },
      source: { type: 'string', example: 'resource-manager@node-a' },
      entity: { type: 'object', required: ['kind', 'id'], properties: { kind: { type: 'string', example: 'pool' }, id: { type: 'string', example: 'tank' } } },
      data: { type: 'object', additionalProperties: true },
    },
  },
  NodeInfo: {
    type: 'object',
    properties: { nodeId: { type: 'string' }, hostname: { type: 'string' }, deviceDir: { type: 'string' }, zfsAvailable: { type: 'boolean' }, version: { type: 'string' } },
  },
  NodePool: {
    type: 'object',
    properties: {
      name: { type: 'string' },
      guid: { type: 'string' },
      health: { type: 'string', example: 'ONLINE' },
      sizeBytes: { type: 'integer' },
      allocatedBytes: { type: 'integer' },
      freeBytes: { type: 'integer' },
    },
  },
  NodeAddress: {
    type: 'object',
    properties: { interface: { type: 'string' }, address: { type: 'string' }, prefix: { type: 'integer' }, family: { type: 'integer', enum: [4, 6] } },
  },
} satisfies Record<string, SchemaObject>;

const PROBLEM_DESCRIPTIONS: Record<number, string> = {
  400: 'Invalid request (`field` names what is wrong)',
  401: 'Missing or wrong credentials',
  404: 'Pool, node, cluster or resource not found',
  409: 'Conflicts with the current state (in transition, busy, stale epoch, address in use ...)',
  502: 'A service behind the gateway failed (for a join: the node at `peer` cannot be reached)',
  503: 'No resource-manager answers (down, or the cluster is electing one)',
  504: 'No answer in time; the operation may still be running',
};

/** Error responses of an endpoint, all problem details. */
export function ApiProblems(...statuses: number[]) {
  return applyDecorators(
    ...statuses.map((status) =>
      ApiResponse({ status, description: PROBLEM_DESCRIPTIONS[status] ?? 'Error', content: { [PROBLEM_CONTENT_TYPE]: { schema: ref('Problem') } } }),
    ),
  );
}

/** A mutating endpoint: a bearer token or Basic credentials. */
export function ApiAuthenticated() {
  return applyDecorators(ApiBearerAuth('bearer'), ApiBasicAuth('basic'));
}

export function buildOpenApiConfig(): Omit<OpenAPIObject, 'paths'> {
  const config = new DocumentBuilder()
    .setTitle('Tandem API')
    .setVersion('1')
    .setDescription(
      [
        'REST API of a Tandem cluster. Every node runs a gateway and any of them serves the whole cluster.',
        '',
        `Reads (GET) are open. Every mutating request (POST, PUT, DELETE) needs either a token from POST ${ApiPaths.token} ` +
          `(valid ${TOKEN_TTL_MS / 3_600_000} h on every node, "Authorization: Bearer <token>") or Basic credentials ${ADMIN_USER}:<password>.`,
        '',
        `Errors are problem details (${PROBLEM_CONTENT_TYPE}): type urn:tandem:error:<CODE>, title <CODE>, status, detail, and the field for invalid arguments.`,
        '',
        `The activity log records the actor "api@<node>", or the value of the X-Tandem-Actor header when it matches ${patternOf(actorSchema)}.`,
      ].join('\n'),
    )
    .addBearerAuth({ type: 'http', scheme: 'bearer', bearerFormat: 'tandem token', description: `From POST ${ApiPaths.token}` }, 'bearer')
    .addBasicAuth({ type: 'http', scheme: 'basic', description: `User "${ADMIN_USER}" and the admin password` }, 'basic')
    .addTag('cluster', 'The cluster and its nodes: form, join, status, offline/online, remove, maintenance (served by the active resource-manager)')
    .addTag('pools', 'HA pools under cluster control (served by the active resource-manager)')
    .addTag('auth', 'Tokens')
    .addTag('events', 'Live event feed')
    .addTag('activity', 'Activity log')
    .addTag('nodes', "One node's host facts")
    .build();
  config.components = { ...config.components, schemas: { ...SCHEMAS } };
  return config;
}

/**
 * Swagger UI on /api/docs, the document on /api/docs-json. The routes are registered while the
 * modules initialise (before the gateway's 404 handler); the document is built from the running
 * application once it is attached (main.ts, right after listen).
 */
@Injectable()
export class ApiDocs implements OnModuleInit {
  private app?: INestApplication;
  private document?: OpenAPIObject;

  constructor(private readonly adapterHost: HttpAdapterHost) {}

  attach(app: INestApplication): void {
    this.app = app;
    this.document = SwaggerModule.createDocument(app, buildOpenApiConfig());
  }

  onModuleInit(): void {
    const adapter = this.adapterHost.httpAdapter;
    // SwaggerModule.setup only needs the HTTP adapter and static assets from the application.
    const host = {
      getHttpAdapter: () => adapter,
      useStaticAssets: (path: string, options: unknown) => (adapter as unknown as { useStaticAssets(p: string, o: unknown): void }).useStaticAssets(path, options),
    } as unknown as INestApplication;
    SwaggerModule.setup(ApiPaths.docs.slice(1), host, () => this.currentDocument(), {
      jsonDocumentUrl: ApiPaths.docsJson.slice(1),
      yamlDocumentUrl: 'api/docs-yaml',
      customSiteTitle: 'Tandem API',
    });
  }

  private currentDocument(): OpenAPIObject {
    if (!this.document && this.app) this.document = SwaggerModule.createDocument(this.app, buildOpenApiConfig());
    // Only in the instant between listen and attach; SwaggerModule retries on the next request.
    if (!this.document) throw new TandemError(ErrorCode.Unavailable, 'the API description is not built yet: retry in a moment');
    return this.document;
  }
}
