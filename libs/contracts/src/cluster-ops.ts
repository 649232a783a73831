import { z } from 'zod';
import { durationSchema, clusterReplicationSettingsSchema, nodeSshKeysSchema, replicationScheduleSchema, replicationStateSchema } from './replication';
import { actorSchema, ipAddressSchema, interfaceNameSchema, nodeIdSchema, poolNameSchema } from './names';

/**
 * Cluster lifecycle operations, answered by the active resource-manager on
 * tandem.cluster.rm.<operation> like the pool operations. Version 1.
 */
const actor = actorSchema.default('operator');

export const clusterOpRequests = {
  'cluster.create': z.object({ node: nodeIdSchema, heartbeatInterface: interfaceNameSchema, actor }).strict(),
  'cluster.join': z.object({ node: nodeIdSchema, actor }).strict(),
  'cluster.status': z.object({}).strict(),
  'node.offline': z.object({ node: nodeIdSchema, actor }).strict(),
  'node.online': z.object({ node: nodeIdSchema, actor }).strict(),
  'node.remove': z.object({ node: nodeIdSchema, actor }).strict(),
  'maintenance.set': z.object({ on: z.boolean(), actor }).strict(),
  /** Every API token issued until now stops being accepted, by every node's gateway. */
  'auth.revoke-tokens': z.object({ actor }).strict(),
  /** Show (no other field) or change the replication settings, cluster-wide or of one pool. */
  'replication.settings': z
    .object({
      pool: poolNameSchema.optional(),
      snapshotInterval: durationSchema.optional(),
      retention: z.number().int('must be a whole number').min(1, 'must be at least 1').max(10_000).optional(),
      pullInterval: durationSchema.optional(),
      stallTimeout: durationSchema.optional(),
      /** NODE=IP: where that node's replication SSH endpoint is reached (cluster-wide only). */
      sshAddresses: z.record(nodeIdSchema, ipAddressSchema).optional(),
      actor,
    })
    .strict(),
  'replication.status': z.object({ pool: poolNameSchema.optional() }).strict(),
  /** After an automatic failover: keep the old node's diverged data aside and sync again, in the new direction. */
  'replication.resume': z.object({ pool: poolNameSchema, actor }).strict(),
  /** Replace a node's replication keys (both nodes' old keys stay valid until the new ones are pinned everywhere). */
  'replication.keys-rotate': z.object({ node: nodeIdSchema, actor }).strict(),
} as const;

export type ClusterOperation = keyof typeof clusterOpRequests;
export type ClusterOpRequest<O extends ClusterOperation> = z.input<(typeof clusterOpRequests)[O]>;
export type ClusterOpParsed<O extends ClusterOperation> = z.output<(typeof clusterOpRequests)[O]>;

export const clusterMemberSchema = z.object({
  id: nodeIdSchema,
  heartbeatAddress: z.string().nullable(),
  /** What the operator set: offline nodes serve nothing and receive nothing. */
  adminState: z.enum(['online', 'offline']),
  joinedAt: z.string(),
  /** Its replication SSH keys, pinned when it joined (a peer presenting another host key is refused). */
  ssh: nodeSshKeysSchema.optional(),
});
export type ClusterMember = z.infer<typeof clusterMemberSchema>;

/** The cluster: the record kept in the cluster KV bucket (CLUSTER_RECORD). */
export const clusterRecordSchema = z.object({
  id: z.string(),
  heartbeatInterface: interfaceNameSchema,
  maintenance: z.boolean(),
  nodes: z.array(clusterMemberSchema),
  createdAt: z.string(),
  /** Cluster-wide replication settings (defaults where absent). */
  replication: clusterReplicationSettingsSchema.optional(),
  /** API tokens issued at or before this time (ISO 8601) are refused by every gateway (`tandem auth revoke-tokens`). */
  tokensRevokedBefore: z.string().datetime().optional(),
});
export type ClusterRecord = z.infer<typeof clusterRecordSchema>;

export const nodeStateSchema = z.enum(['online', 'offline', 'down']);
export type NodeState = z.infer<typeof nodeStateSchema>;

export const nodeStatusSchema = z.object({
  id: z.string(),
  /** online: set online and answering; offline: taken offline by the operator; down: not answering. */
  state: nodeStateSchema,
  health: z.enum(['healthy', 'degraded', 'unknown']),
  healthDetail: z.string().nullable(),
  thisNode: z.boolean(),
  heartbeatAddress: z.string().nullable(),
  heartbeatLink: z.enum(['up', 'down', 'unknown']),
  pools: z.array(z.string()),
});
export type NodeStatus = z.infer<typeof nodeStatusSchema>;

/** Automatic failover as the answering node sees it: why it is declined (null: it is not), the alarms, whether the witness answers. */
export const failoverStatusSchema = z.object({ declined: z.string().nullable(), alarms: z.array(z.string()), witness: z.boolean().nullable() });
export type FailoverStatus = z.infer<typeof failoverStatusSchema>;

/** The settings as they apply: cluster-wide, or of one pool; the derived windows; what a change does. */
export const replicationSettingsResultSchema = z.object({
  pool: z.string().nullable(),
  schedule: replicationScheduleSchema,
  sshPort: z.number(),
  sshAddresses: z.record(z.string()),
  /** interval × retention: how far back a replica can be rolled. */
  rollbackWindowS: z.number(),
  /** How long a passive may be away before no snapshot is common any more and a full resync is needed. */
  passiveDownLimitS: z.number(),
  warnings: z.array(z.string()),
  /** What the change does and when (a new snapshot interval takes effect when the running timer next fires). */
  notes: z.array(z.string()),
});
export type ReplicationSettingsResult = z.infer<typeof replicationSettingsResultSchema>;

/** One replicated pool as `tandem replication status` shows it. */
export const replicationPoolStatusSchema = z.object({
  pool: z.string(),
  active: z.string().nullable(),
  direction: z.string().nullable(),
  state: z.enum(['in-sync', 'syncing', 'bootstrapping', 'locked', 'error', 'waiting']),
  /** The lock message when locked (`Failover occurred. Sync for <pool> is locked!`), else the error. */
  message: z.string().nullable(),
  /** Locked: how much data may be missing on the new active (seconds since its newest applied snapshot). */
  possiblyMissingS: z.number().nullable(),
  schedule: replicationScheduleSchema,
  rollbackWindowS: z.number(),
  passiveDownLimitS: z.number(),
  replication: replicationStateSchema.nullable(),
});
export type ReplicationPoolStatus = z.infer<typeof replicationPoolStatusSchema>;

export const clusterStatusSchema = z.object({
  cluster: z.object({ id: z.string(), heartbeatInterface: z.string(), maintenance: z.boolean(), createdAt: z.string() }).nullable(),
  answeredBy: z.string(),
  nodes: z.array(nodeStatusSchema),
  failover: failoverStatusSchema.optional(),
  /** Every replicated pool's replication (a locked one carries `Failover occurred. Sync for <pool> is locked!`). */
  replication: z.array(replicationPoolStatusSchema).optional(),
});
export type ClusterStatus = z.infer<typeof clusterStatusSchema>;

export const clusterOpResults = {
  'cluster.create': clusterRecordSchema,
  'cluster.join': clusterRecordSchema,
  'cluster.status': clusterStatusSchema,
  'node.offline': z.object({ node: z.string(), moved: z.array(z.object({ pool: z.string(), to: z.string() })), clusterDestroyed: z.boolean(), exported: z.array(z.string()) }),
  'node.online': clusterRecordSchema,
  'node.remove': clusterRecordSchema,
  'maintenance.set': clusterRecordSchema,
  'auth.revoke-tokens': z.object({ revokedBefore: z.string() }),
  'replication.settings': replicationSettingsResultSchema,
  'replication.status': z.array(replicationPoolStatusSchema),
  'replication.resume': replicationPoolStatusSchema,
  'replication.keys-rotate': z.object({ node: z.string(), hostKey: z.string(), clientKey: z.string() }),
} as const satisfies Record<ClusterOperation, z.ZodTypeAny>;

export type ClusterOpResults = { [O in ClusterOperation]: z.infer<(typeof clusterOpResults)[O]> };
