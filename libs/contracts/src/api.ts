import { z, type ZodError } from 'zod';
import { isIP } from 'node:net';
import type { ClusterOperation } from './cluster-ops';
import type { PoolOperation } from './pool-ops';
import { activityRecordSchema } from './events';
import { nodeIdSchema, poolNameSchema } from './names';
import { ENTITY_KINDS, EVENT_ENTITY_ID } from './subjects';

/**
 * The REST API of the api-gateway (version 1), shared by the gateway and the `tandem` CLI so
 * neither spells a path, a header or a body twice. Pool request bodies are the pool-operation
 * contracts (pool-ops.ts) minus `pool` (taken from the path) and `actor` (set by the gateway).
 */
export const API_PREFIX = '/api/v1';

export const ApiPaths = {
  token: `${API_PREFIX}/auth/token`,
  revokeTokens: `${API_PREFIX}/auth/revoke-tokens`,
  pools: `${API_PREFIX}/pools`,
  pool: (pool: string) => `${API_PREFIX}/pools/${encodeURIComponent(pool)}`,
  /** GET the pool's target and LUNs, POST a LUN (name, sizeBytes). */
  poolLuns: (pool: string) => `${API_PREFIX}/pools/${encodeURIComponent(pool)}/luns`,
  /** DELETE a LUN (its data is gone). */
  poolLun: (pool: string, lun: string) => `${API_PREFIX}/pools/${encodeURIComponent(pool)}/luns/${encodeURIComponent(lun)}`,
  /** PUT: initiators log in with CHAP; DELETE: without again. */
  poolChap: (pool: string) => `${API_PREFIX}/pools/${encodeURIComponent(pool)}/chap`,
  poolAction: (pool: string, action: PoolAction) => `${API_PREFIX}/pools/${encodeURIComponent(pool)}/${action}`,
  /** GET a pool's snapshot schedules, POST one. */
  poolSchedules: (pool: string) => `${API_PREFIX}/pools/${encodeURIComponent(pool)}/schedules`,
  /** DELETE one of a pool's snapshot schedules. */
  poolSchedule: (pool: string, name: string) => `${API_PREFIX}/pools/${encodeURIComponent(pool)}/schedules/${encodeURIComponent(name)}`,
  activity: `${API_PREFIX}/activity`,
  events: `${API_PREFIX}/events`,
  nodes: `${API_PREFIX}/nodes`,
  node: (node: string) => `${API_PREFIX}/nodes/${encodeURIComponent(node)}`,
  /** GET the pools a node could import (what an attach can take there). */
  nodeImportablePools: (node: string) => `${API_PREFIX}/nodes/${encodeURIComponent(node)}/importable-pools`,
  /** GET the IP addresses on a node (by interface). */
  nodeAddresses: (node: string) => `${API_PREFIX}/nodes/${encodeURIComponent(node)}/addresses`,
  nodeAction: (node: string, action: NodeAction) => `${API_PREFIX}/nodes/${encodeURIComponent(node)}/${action}`,
  cluster: `${API_PREFIX}/cluster`,
  clusterNodes: `${API_PREFIX}/cluster/nodes`,
  clusterJoin: `${API_PREFIX}/cluster/join`,
  clusterMaintenance: `${API_PREFIX}/cluster/maintenance`,
  /** Shared-nothing (replicated) pools: GET the status of every one. */
  replication: `${API_PREFIX}/replication`,
  /** GET the status of one replicated pool (a pool named `settings` is read through GET `replication`). */
  replicationPool: (pool: string) => `${API_PREFIX}/replication/${encodeURIComponent(pool)}`,
  /** POST: resume sync after an automatic failover locked it. */
  replicationResume: (pool: string) => `${API_PREFIX}/replication/${encodeURIComponent(pool)}/resume`,
  /** GET (`?pool=P` for one pool's) or PUT the replication settings. */
  replicationSettings: `${API_PREFIX}/replication/settings`,
  /** POST: replace a node's replication SSH keys. */
  replicationKeysRotate: (node: string) => `${API_PREFIX}/nodes/${encodeURIComponent(node)}/replication-keys/rotate`,
  /** GET the share users, POST one (name and password). */
  shareUsers: `${API_PREFIX}/share-users`,
  /** DELETE a share user. */
  shareUser: (name: string) => `${API_PREFIX}/share-users/${encodeURIComponent(name)}`,
  /** PUT a share user's new password. */
  shareUserPassword: (name: string) => `${API_PREFIX}/share-users/${encodeURIComponent(name)}/password`,
  docs: '/api/docs',
  docsJson: '/api/docs-json',
  /** Liveness of the gateway; says which node it runs on (`{status, service, node}`). */
  live: '/health/live',
  /** The web console: static files, public like every read. */
  console: '/',
} as const;

/** Pool operations reached as POST /api/v1/pools/{pool}/{action}. */
export const POOL_ACTIONS = ['move', 'detach', 'export', 'reattach', 'mark-usable'] as const;
export type PoolAction = (typeof POOL_ACTIONS)[number];

/** The pool operation behind each REST route. */
export const POOL_ACTION_OPS: Record<PoolAction, PoolOperation> = {
  move: 'pool.move',
  detach: 'pool.detach',
  export: 'pool.export',
  reattach: 'pool.reattach',
  'mark-usable': 'pool.mark-usable',
};

/** Node operations reached as POST /api/v1/nodes/{node}/{action}; DELETE /api/v1/nodes/{node} is node.remove. */
export const NODE_ACTIONS = ['offline', 'online'] as const;
export type NodeAction = (typeof NODE_ACTIONS)[number];

/** The cluster operation behind each REST route of a node. */
export const NODE_ACTION_OPS: Record<NodeAction, ClusterOperation> = {
  offline: 'node.offline',
  online: 'node.online',
};

/**
 * Cluster request bodies are the cluster-operation contracts (cluster-ops.ts) minus what the
 * gateway sets: `actor` always, `node` of POST /api/v1/cluster (the gateway's own node) and of
 * /api/v1/nodes/{node}/… (the path). POST /api/v1/cluster/join is the gateway's own: it joins
 * the gateway's node to the cluster of the node at `peer` by calling that node's gateway.
 */
export const joinClusterRequestSchema = z
  .object({
    /** The heartbeat address of a node of the cluster to join; its api-gateway is called there. */
    peer: z
      .string()
      .refine((v) => isIP(v) !== 0, 'must be an IPv4 or IPv6 address (the heartbeat address of a node of the cluster)')
      .refine((v) => !v.includes('%'), 'must be an address without a zone (%…)'),
    /** The admin password of the node at `peer` (exchanged there for a token, never stored). */
    password: z.string().min(1, 'must not be empty').max(1024, 'must be at most 1024 characters'),
    /**
     * The SHA-256 fingerprint of the API certificate of the node at `peer` (its gateway logs it at
     * start). The join speaks HTTPS and sends nothing, the password included, to a node that
     * shows another certificate; without it the join is refused naming the fingerprint shown.
     */
    peerFingerprint: z
      .string()
      .regex(/^([0-9A-Fa-f]{2}:){31}[0-9A-Fa-f]{2}$/, 'must be a SHA-256 fingerprint: 32 hex pairs separated by colons (AB:CD:…)')
      .optional(),
  })
  .strict();
export type JoinClusterRequest = z.infer<typeof joinClusterRequestSchema>;

/** How long a join waits for the peer's token endpoint (connect and answer). */
export const PEER_TOKEN_TIMEOUT_MS = 5_000;

/** Who asked, as recorded in the activity log. The CLI sends e.g. `cli:alice@host1`. */
export const ACTOR_HEADER = 'x-tandem-actor';
export { actorSchema } from './names';

/** The only user of the API; Basic credentials are `admin:<password>`. */
export const ADMIN_USER = 'admin';

export const tokenRequestSchema = z.object({ password: z.string().min(1, 'must not be empty').max(1024, 'must be at most 1024 characters') }).strict();
export type TokenRequest = z.infer<typeof tokenRequestSchema>;

/** The answer of POST /api/v1/auth/token. */
export const tokenResponseSchema = z.object({
  /** Send as `Authorization: Bearer <token>`. Accepted by every node's gateway of the cluster. */
  token: z.string(),
  /** ISO 8601 time after which the token is refused. */
  expiresAt: z.string().datetime(),
});
export type TokenResponse = z.infer<typeof tokenResponseSchema>;

/** Lifetime of a token issued by POST /api/v1/auth/token. */
export const TOKEN_TTL_MS = 12 * 60 * 60 * 1000;

/** Errors: RFC 9457 problem details. `title` is the wire error code. */
export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

export const problemDetailsSchema = z.object({
  /** `urn:tandem:error:<CODE>` */
  type: z.string(),
  /**
   * The error code, e.g. `POOL_NOT_FOUND`: one of ErrorCode, or a code of a newer service that
   * this side does not know yet (hence any string).
   */
  title: z.string(),
  status: z.number().int(),
  detail: z.string(),
  /** The request field that was wrong (dotted path, e.g. `vips.0`). */
  field: z.string().optional(),
  /** Verbatim output of the tool that failed on a node (zpool, zfs, ip ...), when there was one. */
  output: z.string().optional(),
  /** Trace id of the request, to find it in the activity log and the tracing backend. */
  traceId: z.string().optional(),
});
export type ProblemDetails = z.infer<typeof problemDetailsSchema>;

export function problemType(code: string): string {
  return `urn:tandem:error:${code}`;
}

export function isProblemDetails(v: unknown): v is ProblemDetails {
  if (typeof v !== 'object' || v === null) return false;
  const p = v as Record<string, unknown>;
  return typeof p.type === 'string' && typeof p.title === 'string' && typeof p.status === 'number' && typeof p.detail === 'string';
}

/** The first issue of a failed validation as the field it names (dotted path) and a message. */
export function describeZodError(err: ZodError, prefix: readonly (string | number)[] = []): { field: string; message: string } {
  const issue = err.issues[0];
  if (!issue) return { field: prefix.join('.') || '(request)', message: 'invalid' };
  let path = [...prefix, ...issue.path];
  let msg = issue.message;
  if (issue.code === 'unrecognized_keys') {
    path = [...path, issue.keys[0] ?? ''];
    msg = issue.keys.length > 1 ? `unknown fields: ${issue.keys.join(', ')}` : 'unknown field';
  } else if (issue.code === 'invalid_type' && issue.received === 'undefined') {
    msg = 'is required';
  }
  const field = path.join('.') || '(request)';
  return { field, message: `${field}: ${msg}` };
}

/** A page cursor of the activity log: an entry's `eventId` (the same on every node) or its `id`. */
export const activityCursorSchema = z.string().regex(/^[\w.:-]{1,128}$/, "must be the cursor of a page (an entry's eventId or id)");

/**
 * Query of GET /api/v1/activity: a page of entries, newest first — the newest, or those before
 * the cursor `before` — of one pool, one node, one result.
 */
export const activityQuerySchema = z
  .object({
    limit: z.coerce.number().int('must be a whole number').min(1).max(1000).default(100),
    before: activityCursorSchema.optional(),
    pool: poolNameSchema.optional(),
    node: nodeIdSchema.optional(),
    result: activityRecordSchema.shape.result.optional(),
  })
  .strict();
export type ActivityQuery = z.input<typeof activityQuerySchema>;

/**
 * Which entries are about a pool, which about a node: the target of these actions is the pool
 * (the node) of `?pool=` (`?node=`). A pool's failover, for one, is about the pool.
 */
export const ACTIVITY_TARGETS = {
  pool: { prefixes: ['pool.'], actions: ['replication.settings', 'replication.resume'] },
  node: { prefixes: ['node.'], actions: ['cluster.create', 'cluster.join', 'replication.keys-rotate'] },
} as const;

/** The `Link` header of a page of GET /api/v1/activity that has entries before it: `<…&before=CURSOR>; rel="next"`. */
export function activityNextLink(query: ActivityQuery, cursor: string): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries({ ...query, before: cursor })) if (v !== undefined) q.set(k, String(v));
  return `<${ApiPaths.activity}?${q.toString()}>; rel="next"`;
}

/** The cursor of the next page in a `Link` header (undefined: no page before this one). */
export function activityNextCursor(link: string | null): string | undefined {
  const next = /<([^>]*)>\s*;\s*rel="?next"?/.exec(link ?? '')?.[1];
  return next === undefined ? undefined : (new URLSearchParams(next.split('?')[1] ?? '').get('before') ?? undefined);
}

/** Query of GET /api/v1/events: the events of one kind of entity, or of one entity. */
export const eventsQuerySchema = z
  .object({
    entity: z.enum(ENTITY_KINDS).optional(),
    id: z.string().max(128).regex(EVENT_ENTITY_ID, 'must be an entity id (letters, digits, _ : -)').optional(),
  })
  .strict();
/** The `Last-Event-ID` of the event feed: the stream sequence of the last event the client got. */
export const lastEventIdSchema = z.string().regex(/^\d{1,19}$/, 'must be the id of an event of the feed (a whole number)');

/** One entry of the activity log as served by GET /api/v1/activity. */
export const activityEntrySchema = activityRecordSchema.extend({
  id: z.string(),
  /** ISO 8601 time the entry was written. */
  at: z.string().datetime(),
  eventId: z.string().nullable(),
});
export type ActivityEntry = z.infer<typeof activityEntrySchema>;

/**
 * The health endpoints every Tandem service serves (service-kit's HealthController), the
 * gateway's among them: GET /health/live answers while the process runs and says which node it
 * is on (the CLI reads `node`); GET /health/ready answers 200 when every check is `ok`, 503
 * otherwise, with each check's outcome.
 */
export const healthLiveResponseSchema = z.object({ status: z.literal('ok'), service: z.string(), node: z.string() });
export type HealthLiveResponse = z.infer<typeof healthLiveResponseSchema>;
export const healthReadyResponseSchema = z.object({
  status: z.enum(['ready', 'not-ready']),
  service: z.string(),
  node: z.string(),
  uptimeSeconds: z.number().int(),
  /** Per check (nats, database ...): `ok`, or what is wrong. */
  checks: z.record(z.string()),
});
export type HealthReadyResponse = z.infer<typeof healthReadyResponseSchema>;
