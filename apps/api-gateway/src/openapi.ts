import { applyDecorators, Injectable, type INestApplication, type OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { ApiBasicAuth, ApiBearerAuth, ApiResponse, DocumentBuilder, SwaggerModule, type OpenAPIObject, type ReferenceObject, type SchemaObject } from '@nestjs/swagger';
import { ZodDefault, ZodEffects, ZodOptional, ZodString, type AnyZodObject, type ZodTypeAny, type ZodTypeDef } from 'zod';
import { ignoreOverride, zodToJsonSchema } from 'zod-to-json-schema';
import {
  ADMIN_USER,
  ApiPaths,
  ErrorCode,
  TandemError,
  PEER_TOKEN_TIMEOUT_MS,
  PROBLEM_CONTENT_TYPE,
  TOKEN_TTL_MS,
  activityEntrySchema,
  actorSchema,
  addressInfoSchema,
  clusterMemberSchema,
  clusterOpRequests,
  clusterOpResults,
  clusterRecordSchema,
  clusterStatusSchema,
  durationSchema,
  eventEnvelopeSchema,
  failoverStatusSchema,
  floatingIpSchema,
  haPoolSchema,
  healthLiveResponseSchema,
  healthReadyResponseSchema,
  interfaceNameSchema,
  joinClusterRequestSchema,
  lunNameSchema,
  nodeIdSchema,
  nodeInfoSchema,
  nodeStatusSchema,
  poolNameSchema,
  poolOpRequests,
  poolOpResults,
  poolSummarySchema,
  problemDetailsSchema,
  replicationPoolStatusSchema,
  replicationScheduleSchema,
  replicationSettingsResultSchema,
  replicationStateSchema,
  scheduleNameSchema,
  shareSpecSchema,
  shareUserAddBodySchema,
  shareUserInfoSchema,
  shareUserNameSchema,
  shareUserPasswordBodySchema,
  tokenRequestSchema,
  tokenResponseSchema,
} from '@tandem/contracts';

/**
 * The OpenAPI description of the REST API. Every schema in it is generated from the zod
 * contracts the gateway and the services validate with (libs/contracts), so the document cannot
 * drift from what the API takes and answers. This file only adds words: descriptions and
 * examples, never structure.
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

/**
 * A request body: the contract's request minus the fields the gateway sets itself (`actor`
 * always, the parameters of the path, the node of POST /api/v1/cluster; see contractRequest).
 * Refinements across fields (an attach needs a floating IP or fc) have no JSON Schema: the
 * gateway checks them with the contract, and the component's description says them.
 */
function restBody<T extends AnyZodObject>(contract: T | ZodEffects<T>, setByGateway: readonly (keyof T['shape'] & string)[]): AnyZodObject {
  const object: T = contract instanceof ZodEffects ? contract.innerType() : contract;
  return object.omit(Object.fromEntries(setByGateway.map((k) => [k, true])));
}

/** Words for one property: a description, or a description with an example or a display format. */
type PropertyNotes = string | Pick<SchemaObject, 'description' | 'example' | 'format'>;

interface Component {
  schema: ZodTypeAny;
  description?: string;
  example?: unknown;
  /** By property name; a property the schema does not have is an error (the words would be stale). */
  properties?: Record<string, PropertyNotes>;
}

/**
 * The named schemas of the document. Wherever one of these zod schemas (the same object) appears
 * inside another, the document refers to it by name instead of repeating it.
 */
const COMPONENTS = {
  Problem: {
    schema: problemDetailsSchema,
    description: `Problem details (RFC 9457), served as ${PROBLEM_CONTENT_TYPE}. \`title\` is the error code.`,
    properties: {
      type: { description: 'urn:tandem:error:<CODE>', example: 'urn:tandem:error:POOL_NOT_FOUND' },
      title: { description: `The error code: ${Object.values(ErrorCode).join(', ')} (a newer service may answer one not listed here)`, example: 'POOL_NOT_FOUND' },
      status: { description: 'The HTTP status', example: 404 },
      detail: { description: 'What went wrong, for people', example: 'pool "tank" is not under cluster control' },
      field: { description: 'The request field that was wrong (dotted path, e.g. vips.0)', example: 'vips.0' },
      output: 'Verbatim output of the tool that failed on a node, when there was one',
      traceId: 'Trace id of the request (activity log, tracing backend)',
    },
  },
  PoolName: {
    schema: poolNameSchema,
    description: 'ZFS pool name: starts with a letter; letters, digits, _ . : -; not a reserved vdev word (mirror, raidz, spare, log, cache, c0...)',
    example: 'tank',
  },
  NodeId: { schema: nodeIdSchema, description: 'A node id', example: 'node-b' },
  LunName: { schema: lunNameSchema, description: "A LUN of a pool (also its zvol's or file's name): 1-64 letters, digits, _ -", example: 'vm1' },
  InterfaceName: { schema: interfaceNameSchema, description: 'A Linux interface name', example: 'hb0' },
  FloatingIp: {
    schema: floatingIpSchema,
    description: 'A floating IP of a pool: brought up on the node that serves it',
    properties: { address: { description: 'IPv4 or IPv6 address', example: '10.77.3.50' }, prefix: { description: 'Prefix length, valid for the address family', example: 24 } },
  },
  ShareSpec: {
    schema: shareSpecSchema,
    properties: { name: { description: 'Share name', example: 'data' }, path: "Relative to the pool's mountpoint ('' = the pool's root dataset); no '..'" },
  },
  HaPool: {
    schema: haPoolSchema,
    description: 'An HA pool under cluster control',
    properties: {
      state: 'serving: imported and served on `node`; in-transition: an operation runs; inactive: not served (see reason)',
      node: { description: 'Where it is served (or was last)', example: 'node-a' },
      operation: 'What runs now, while in transition (attach, move, export, reattach ...)',
      reason: 'Why it is inactive',
      fc: "Also served over Fibre Channel: the pool's LUNs through each node's FC target ports (LIO, ALUA active/optimized on the serving node, standby on the others)",
      luns: 'LUNs made in the pool and served by its iSCSI target (and over FC with fc), numbered from 1 in this order',
      epoch: 'Fencing epoch: grows with every change of owner',
      failedOn: 'Nodes the pool failed on: it never goes back there by itself until marked usable again',
      lastFailoverAt: 'When the pool last moved automatically (ISO time): the hold-down counts from here',
      mode: 'shared (one JBOD, imported on one node at a time; when absent) or replicated (every node its own pool, kept in sync by snapshot replication)',
      replication: "Replicated only: this pool's own schedule, overriding the cluster's",
      syncLock: 'Replicated only: set by an automatic failover; nothing replicates until POST /api/v1/replication/{pool}/resume',
    },
  },
  DetachResult: { schema: poolOpResults['pool.detach'], properties: { node: 'Where the pool stays imported, unmanaged' } },
  RemoveResult: { schema: poolOpResults['pool.remove'] },
  AttachPoolRequest: {
    schema: restBody(poolOpRequests['pool.attach'], ['actor']),
    description: 'Put a pool under cluster control, served on `node`. Give at least one floating IP, or fc: true.',
    properties: {
      vips: { description: 'Floating IPs, each INTERFACE:ADDRESS/PREFIX with a prefix valid for the address family', example: ['cli0:10.77.3.50/24'] },
      fc: "Also served over Fibre Channel: the pool's LUNs through each node's FC target ports (LIO, ALUA active/optimized on the serving node, standby on the others)",
      luns: 'LUNs made in the pool and served by its iSCSI target (and over FC with fc), numbered from 1 in this order',
      shares: 'SMB and NFS shares, started on the node that serves the pool',
      replicated:
        'Shared nothing: every online node has its own pool of this name (imported or importable there), kept in sync by snapshot replication; `node` serves it first and the first full sync (bootstrap) starts at once',
    },
  },
  AddLunRequest: {
    schema: restBody(poolOpRequests['pool.lun-add'], ['pool', 'actor']),
    description: "Adds a LUN to the pool's target: its backing (a zvol, or a file in the pool where the node's ZFS has no zvols) is made on the serving node and the running target takes it.",
    properties: { name: 'The LUN (and its zvol or file) name', sizeBytes: 'Its size in bytes: a multiple of 512, at least 1 MiB' },
  },
  SetChapRequest: {
    schema: restBody(poolOpRequests['pool.chap-set'], ['pool', 'actor']),
    description: "CHAP of the pool's target: initiators log in as `user` with `secret`, on whichever node serves the pool",
    properties: { user: 'The CHAP user: 1-64 letters, digits, _ . : @ -', secret: 'Its secret: 12-16 printable ASCII characters without spaces (what Windows and most initiators require)' },
  },
  MovePoolRequest: { schema: restBody(poolOpRequests['pool.move'], ['pool', 'actor']), properties: { to: 'The node to serve the pool on' } },
  AddScheduleRequest: {
    schema: restBody(poolOpRequests['pool.schedule-add'], ['pool', 'actor']),
    description: 'A snapshot schedule of the pool (one of that name is replaced), carried out by whichever node serves it',
    properties: {
      name: 'The schedule: lower-case letters, digits and hyphens, starting with a letter (its snapshots are tandem-NAME-YYYYMMDD-HHMMSS)',
      every: { description: 'How often: seconds, or a whole number with s, m, h or d; at least 10s', example: '1h' },
      keep: 'How many of its snapshots are kept (1-1000); older ones are destroyed, held ones never',
    },
  },
  ScheduleName: { schema: scheduleNameSchema, description: 'A snapshot schedule of a pool', example: 'hourly' },
  MarkUsableRequest: { schema: restBody(poolOpRequests['pool.mark-usable'], ['pool', 'actor']), properties: { node: 'The node the pool may run on again' } },
  DetachPoolRequest: { schema: restBody(poolOpRequests['pool.detach'], ['pool', 'actor']), description: 'No fields (the body may be omitted)' },
  ExportPoolRequest: { schema: restBody(poolOpRequests['pool.export'], ['pool', 'actor']), description: 'No fields (the body may be omitted)' },
  ReattachPoolRequest: { schema: restBody(poolOpRequests['pool.reattach'], ['pool', 'actor']), properties: { node: 'The node to serve the pool on' } },
  CreateClusterRequest: {
    schema: restBody(clusterOpRequests['cluster.create'], ['node', 'actor']),
    description: 'The cluster is formed on the node of the gateway that is asked (its node id is not given).',
    properties: { heartbeatInterface: 'The interface the nodes hear each other on; the same name on every node' },
  },
  AddNodeRequest: { schema: restBody(clusterOpRequests['cluster.join'], ['actor']), properties: { node: 'The node to add' } },
  JoinClusterRequest: {
    schema: joinClusterRequestSchema,
    properties: {
      peer: { description: 'IPv4 or IPv6 address (no zone) of a node of the cluster: its heartbeat address, where its api-gateway is called', example: '10.77.1.11' },
      password: {
        description: `The admin password of the node at \`peer\` (exchanged there for a token within ${PEER_TOKEN_TIMEOUT_MS / 1000} s; not stored)`,
        format: 'password',
      },
    },
  },
  MaintenanceRequest: { schema: restBody(clusterOpRequests['maintenance.set'], ['actor']), properties: { on: 'While on, nothing moves automatically' } },
  RevokeTokensRequest: { schema: restBody(clusterOpRequests['auth.revoke-tokens'], ['actor']), description: 'No fields (the body may be omitted)' },
  NodeOfflineRequest: { schema: restBody(clusterOpRequests['node.offline'], ['node', 'actor']), description: 'No fields (the body may be omitted)' },
  NodeOnlineRequest: { schema: restBody(clusterOpRequests['node.online'], ['node', 'actor']), description: 'No fields (the body may be omitted)' },
  ClusterMember: {
    schema: clusterMemberSchema,
    properties: {
      heartbeatAddress: { description: 'Its address on the heartbeat interface', example: '10.77.1.11' },
      adminState: 'What the operator set: offline nodes serve nothing and receive nothing',
    },
  },
  ClusterRecord: { schema: clusterRecordSchema, properties: { id: { description: 'The cluster id', example: 'tandem' }, maintenance: 'While on, nothing moves automatically' } },
  NodeStatus: {
    schema: nodeStatusSchema,
    properties: {
      state: 'online: set online and answering; offline: taken offline by the operator; down: not answering',
      healthDetail: { description: 'What is not healthy', example: 'tank DEGRADED' },
      thisNode: 'The node of the gateway that answered',
      pools: 'The HA pools it serves',
    },
  },
  FailoverStatus: {
    schema: failoverStatusSchema,
    description: 'Automatic failover as the answering node sees it',
    properties: { declined: 'Why automatic failover is declined now (null: it is not)', witness: 'Whether the witness answers (null: unknown)' },
  },
  ClusterStatus: {
    schema: clusterStatusSchema,
    properties: {
      cluster: 'null while there is no cluster',
      answeredBy: 'The node of the gateway that answered',
      replication: 'Every replicated pool’s replication; a locked pool’s message is also among the failover alarms',
    },
  },
  Duration: {
    schema: durationSchema,
    description: 'A duration: a whole number followed by s, m, h or d (30s, 15m, 2h, 1d), or a whole number of seconds; at least 1 s',
    example: '15m',
  },
  ReplicationSchedule: {
    schema: replicationScheduleSchema,
    description: 'The schedule of a replicated pool',
    properties: {
      snapshotIntervalS: { description: 'Seconds between the active node’s snapshots; a change takes effect when the running timer next fires', example: 900 },
      retention: { description: 'How many of Tandem’s snapshots the active keeps', example: 24 },
      pullIntervalS: { description: 'Seconds between a passive’s pulls of the snapshots it misses', example: 180 },
      stallTimeoutS: { description: 'A transfer that moves no byte for this long is killed and retried', example: 60 },
    },
  },
  ReplicationState: {
    schema: replicationStateSchema,
    description: 'The replication record of one pool, kept by the active replication-scheduler',
    properties: {
      source: 'The node that serves the pool and takes its snapshots',
      nextSnapshotAt: 'When the snapshot timer next fires',
      replicas: 'Per passive node: its state, lag, newest common snapshot, last transfer, the transfer running now, next pull',
      keepAsideOn: 'Nodes whose copy diverged: their data is kept aside before they receive again',
    },
  },
  ReplicationPoolStatus: {
    schema: replicationPoolStatusSchema,
    description: 'One replicated pool’s replication',
    properties: {
      active: { description: 'The node that serves it', example: 'node-a' },
      direction: { description: 'From the active to its passives', example: 'node-a → node-b' },
      state: 'The worst state of its replicas; locked after an automatic failover until resumed',
      message: { description: 'The lock message when locked, else the error of a replica', example: 'Failover occurred. Sync for tank is locked!' },
      possiblyMissingS: 'Locked: seconds of writes the new active may lack (since its newest applied snapshot)',
      rollbackWindowS: 'Snapshot interval × retention: how far back a replica can be rolled',
      passiveDownLimitS: 'How long a passive may be away before a full resync is needed',
      replication: 'The replication record (null until the replication-scheduler has written one)',
    },
  },
  ReplicationSettings: {
    schema: replicationSettingsResultSchema,
    properties: {
      pool: 'The pool the settings apply to (null: cluster-wide)',
      sshPort: 'The TCP port of every node’s replication SSH endpoint',
      sshAddresses: { description: 'Per node, where its replication SSH endpoint is reached', example: { 'node-a': '10.77.1.11', 'node-b': '10.77.1.12' } },
      rollbackWindowS: 'Snapshot interval × retention: how far back a replica can be rolled',
      passiveDownLimitS: 'How long a passive may be away before a full resync is needed',
      warnings: 'What the operator should know about these settings',
      notes: 'What a change does and when (a new snapshot interval takes effect when the running timer next fires)',
    },
  },
  ReplicationSettingsRequest: {
    schema: restBody(clusterOpRequests['replication.settings'], ['actor']),
    description: 'Only the fields given change; with none, the settings are shown. With `pool`, that replicated pool’s own overrides change.',
    properties: {
      pool: 'Change this replicated pool’s overrides instead of the cluster-wide settings',
      snapshotInterval: { description: 'The active node’s snapshot interval (default 15m)', example: '15m' },
      pullInterval: { description: 'How often a passive pulls the snapshots it misses (default 3m)', example: '3m' },
      stallTimeout: { description: 'A transfer that moves no byte for this long is killed and retried (default 1m)', example: '1m' },
      retention: { description: 'How many of Tandem’s snapshots the active keeps', example: 24 },
      sshAddresses: { description: 'NODE → IP: where that node’s replication SSH endpoint is reached (cluster-wide only)', example: { 'node-b': '10.77.1.12' } },
    },
  },
  ResumeReplicationRequest: { schema: restBody(clusterOpRequests['replication.resume'], ['pool', 'actor']), description: 'No fields (the body may be omitted)' },
  RotateKeysRequest: { schema: restBody(clusterOpRequests['replication.keys-rotate'], ['node', 'actor']), description: 'No fields (the body may be omitted)' },
  RotateKeysResult: {
    schema: clusterOpResults['replication.keys-rotate'],
    properties: { hostKey: 'The node’s new SSH host key (OpenSSH public key), pinned on every node', clientKey: 'The node’s new client key, pinned on every node' },
  },
  NodeOfflineResult: {
    schema: clusterOpResults['node.offline'],
    properties: { moved: 'Where its pools went', clusterDestroyed: 'It was the last online node: the cluster ended', exported: 'Pools exported because the cluster ended' },
  },
  ShareUserName: { schema: shareUserNameSchema, description: 'A share user: 1-32 lower-case letters, digits, _ -, starting with a letter or _; not a system account', example: 'alice' },
  ShareUser: {
    schema: shareUserInfoSchema,
    properties: {
      uid: 'Its unix id, the same on every node',
      passwordSetAt: 'When its password was last set',
      by: 'Who added it or last set its password',
      shares: 'The SMB shares that let it in (POOL/SHARE)',
    },
  },
  AddShareUserRequest: { schema: shareUserAddBodySchema, properties: { password: { description: '8-128 characters; kept only as its NT hash', format: 'password' } } },
  ShareUserPasswordRequest: { schema: shareUserPasswordBodySchema, properties: { password: { description: '8-128 characters; kept only as its NT hash', format: 'password' } } },
  TokenRequest: { schema: tokenRequestSchema, properties: { password: { description: `The admin password (user ${ADMIN_USER})`, format: 'password' } } },
  TokenResponse: { schema: tokenResponseSchema, properties: { token: 'Send as "Authorization: Bearer <token>"', expiresAt: 'When the token is refused from' } },
  ActivityEntry: {
    schema: activityEntrySchema,
    properties: {
      actor: { description: 'Who asked', example: 'api@node-a' },
      action: { description: 'The operation', example: 'pool.move' },
      target: { description: 'What it acted on', example: 'tank' },
    },
  },
  EventEnvelope: {
    schema: eventEnvelopeSchema,
    description: 'An event as published on tandem.evt.<entity>.<id>.<verb> (the catalogue: docs/events.md)',
    properties: { schema: { description: 'The payload and its version', example: 'tandem.pool.changed/1' }, source: { description: '<service>@<node>', example: 'resource-manager@node-a' } },
  },
  NodeInfo: { schema: nodeInfoSchema, description: "A node's host-executor facts" },
  NodePool: { schema: poolSummarySchema, description: 'A pool imported on a node, as ZFS sees it' },
  NodeAddress: { schema: addressInfoSchema, description: 'An IP address on a node' },
  HealthLive: { schema: healthLiveResponseSchema, properties: { node: 'The node the service runs on' } },
  HealthReady: { schema: healthReadyResponseSchema },
} satisfies Record<string, Component>;

export type ComponentName = keyof typeof COMPONENTS;

/** Component name by zod schema, to refer to a component wherever its schema appears. */
const NAME_OF_SCHEMA: ReadonlyMap<ZodTypeDef, ComponentName> = (() => {
  const names = new Map<ZodTypeDef, ComponentName>();
  for (const [name, c] of Object.entries(COMPONENTS) as [ComponentName, Component][]) {
    const other = names.get(c.schema._def);
    if (other) throw new Error(`OpenAPI components ${other} and ${name} are the same schema`);
    names.set(c.schema._def, name);
  }
  return names;
})();

/** A reference to a component schema (usable wherever the decorators want a schema). */
export function ref(name: ComponentName): SchemaObject & ReferenceObject {
  return { $ref: `#/components/schemas/${name}` } as SchemaObject & ReferenceObject;
}

/** A zod schema as OpenAPI 3.0, with the components it holds (other than `self`) as references. */
function toOpenApi(schema: ZodTypeAny, self?: ZodTypeDef): SchemaObject & Partial<ReferenceObject> {
  return zodToJsonSchema(schema, {
    target: 'openApi3',
    // Anything that is not a component is written out where it appears.
    $refStrategy: 'none',
    // Strict contracts (the requests) refuse unknown fields: `additionalProperties: false`. The
    // results say nothing about other fields, since the contracts may add fields to them.
    removeAdditionalStrategy: 'strict',
    allowedAdditionalProperties: undefined,
    override: (def) => {
      const name = NAME_OF_SCHEMA.get(def);
      return name !== undefined && def !== self ? ref(name) : ignoreOverride;
    },
  }) as SchemaObject & Partial<ReferenceObject>;
}

/**
 * The OpenAPI schema of a contract schema, e.g. of an operation's result: components appear as
 * references (`ref('HaPool')` for haPoolSchema, an array of them for a list).
 */
export function schemaOf(schema: ZodTypeAny): SchemaObject & Partial<ReferenceObject> {
  return toOpenApi(schema);
}

function withNotes(name: string, json: SchemaObject, c: Component): SchemaObject {
  const out: SchemaObject = { ...json };
  if (c.description !== undefined) out.description = c.description;
  if (c.example !== undefined) out.example = c.example;
  for (const [prop, notes] of Object.entries(c.properties ?? {})) {
    const current = out.properties?.[prop];
    if (!current) throw new Error(`OpenAPI component ${name} has no property ${prop} to describe`);
    const words = typeof notes === 'string' ? { description: notes } : notes;
    // Siblings of a $ref are ignored in OpenAPI 3.0: the reference is wrapped to carry the words.
    const target: SchemaObject = '$ref' in current ? { allOf: [current] } : { ...current };
    out.properties = { ...out.properties, [prop]: { ...target, ...words } };
  }
  return out;
}

/** components.schemas of the document, generated from the contracts. */
export function componentSchemas(): Record<ComponentName, SchemaObject> {
  const out = {} as Record<ComponentName, SchemaObject>;
  for (const [name, c] of Object.entries(COMPONENTS) as [ComponentName, Component][]) out[name] = withNotes(name, toOpenApi(c.schema, c.schema._def), c);
  return out;
}

const PROBLEM_DESCRIPTIONS: Record<number, string> = {
  400: 'Invalid request (`field` names what is wrong)',
  401: 'Missing or wrong credentials',
  404: 'Pool, node, cluster or resource not found',
  409: 'Conflicts with the current state (in transition, busy, stale epoch, address in use ...)',
  429: 'Too many wrong passwords (5 a minute from one address, 50 from all): try again after `Retry-After` seconds',
  502: 'A service behind the gateway failed (for a join: the node at `peer` cannot be reached)',
  503: 'No resource-manager answers (down, or the cluster is electing one)',
  504: 'No answer in time; the operation may still be running',
};

/** Error responses of an endpoint, all problem details; a status may come with words of its own (`[503, 'why']`). */
export function ApiProblems(...statuses: Array<number | [number, string]>) {
  return applyDecorators(
    ...statuses.map((s) => {
      const [status, description] = typeof s === 'number' ? [s, PROBLEM_DESCRIPTIONS[s] ?? 'Error'] : s;
      return ApiResponse({ status, description, content: { [PROBLEM_CONTENT_TYPE]: { schema: ref('Problem') } } });
    }),
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
    .addTag('shares', 'SMB share users: logins of the SMB shares, the same on every node (served by the active resource-manager)')
    .addTag('replication', 'Shared-nothing (replicated) pools: status, settings, resuming a locked sync, key rotation (served by the active resource-manager)')
    .addTag('auth', 'Tokens')
    .addTag('events', 'Live event feed')
    .addTag('activity', 'Activity log')
    .addTag('nodes', "One node's host facts")
    .addTag('health', 'Liveness and readiness of the gateway (every Tandem service answers the same)')
    .build();
  config.components = { ...config.components, schemas: componentSchemas() };
  return config;
}

/**
 * The health endpoints come from service-kit: every Tandem service serves them and that library
 * carries no Swagger decorators, so their answers are described here, from their contracts.
 */
const HEALTH_ROUTES: ReadonlyArray<{ path: string; summary: string; responses: Record<number, [string, ComponentName]> }> = [
  { path: ApiPaths.live, summary: 'Liveness: the gateway runs, and on which node', responses: { 200: ['Alive', 'HealthLive'] } },
  {
    path: '/health/ready',
    summary: 'Readiness: the gateway reaches NATS and Postgres',
    responses: { 200: ['Ready: every check is ok', 'HealthReady'], 503: ['Not ready: the checks say what is wrong', 'HealthReady'] },
  },
];

/** The document of the running application: its routes, and the schemas above. */
export function buildOpenApiDocument(app: INestApplication): OpenAPIObject {
  const document = SwaggerModule.createDocument(app, buildOpenApiConfig());
  // Prometheus' scrape target (text, every service serves it; see the README's metrics), not a REST resource
  delete document.paths['/metrics'];
  for (const route of HEALTH_ROUTES) {
    const operation = document.paths[route.path]?.get;
    if (!operation) continue;
    operation.tags = ['health'];
    operation.summary = route.summary;
    operation.responses = Object.fromEntries(
      Object.entries(route.responses).map(([status, [description, schema]]) => [status, { description, content: { 'application/json': { schema: ref(schema) } } }]),
    );
  }
  return document;
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
    this.document = buildOpenApiDocument(app);
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
    if (!this.document && this.app) this.document = buildOpenApiDocument(this.app);
    // Only in the instant between listen and attach; SwaggerModule retries on the next request.
    if (!this.document) throw new TandemError(ErrorCode.Unavailable, 'the API description is not built yet: retry in a moment');
    return this.document;
  }
}
