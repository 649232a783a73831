import { z } from 'zod';
import { interfaceNameSchema, nodeIdSchema } from './names';

/**
 * Cluster lifecycle operations, answered by the active resource-manager on
 * tandem.cluster.rm.<operation> like the pool operations. Version 1.
 */
const actor = z.string().min(1).max(64).default('operator');

export const clusterOpRequests = {
  'cluster.create': z.object({ node: nodeIdSchema, heartbeatInterface: interfaceNameSchema, actor }).strict(),
  'cluster.join': z.object({ node: nodeIdSchema, actor }).strict(),
  'cluster.status': z.object({}).strict(),
  'node.offline': z.object({ node: nodeIdSchema, actor }).strict(),
  'node.online': z.object({ node: nodeIdSchema, actor }).strict(),
  'node.remove': z.object({ node: nodeIdSchema, actor }).strict(),
  'maintenance.set': z.object({ on: z.boolean(), actor }).strict(),
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
});
export type ClusterMember = z.infer<typeof clusterMemberSchema>;

/** The cluster: the record kept in the cluster KV bucket (CLUSTER_RECORD). */
export const clusterRecordSchema = z.object({
  id: z.string(),
  heartbeatInterface: interfaceNameSchema,
  maintenance: z.boolean(),
  nodes: z.array(clusterMemberSchema),
  createdAt: z.string(),
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

export const clusterStatusSchema = z.object({
  cluster: z.object({ id: z.string(), heartbeatInterface: z.string(), maintenance: z.boolean(), createdAt: z.string() }).nullable(),
  answeredBy: z.string(),
  nodes: z.array(nodeStatusSchema),
  failover: failoverStatusSchema.optional(),
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
} as const satisfies Record<ClusterOperation, z.ZodTypeAny>;

export type ClusterOpResults = { [O in ClusterOperation]: z.infer<(typeof clusterOpResults)[O]> };
