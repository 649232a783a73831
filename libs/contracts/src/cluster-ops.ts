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

export interface ClusterMember {
  id: string;
  heartbeatAddress: string | null;
  /** What the operator set: offline nodes serve nothing and receive nothing. */
  adminState: 'online' | 'offline';
  joinedAt: string;
}

export interface ClusterRecord {
  id: string;
  heartbeatInterface: string;
  maintenance: boolean;
  nodes: ClusterMember[];
  createdAt: string;
}

export type NodeState = 'online' | 'offline' | 'down';

export interface NodeStatus {
  id: string;
  /** online: set online and answering; offline: taken offline by the operator; down: not answering. */
  state: NodeState;
  health: 'healthy' | 'degraded' | 'unknown';
  healthDetail: string | null;
  thisNode: boolean;
  heartbeatAddress: string | null;
  heartbeatLink: 'up' | 'down' | 'unknown';
  pools: string[];
}

export interface ClusterStatus {
  cluster: { id: string; heartbeatInterface: string; maintenance: boolean; createdAt: string } | null;
  answeredBy: string;
  nodes: NodeStatus[];
  /** Automatic failover as the answering node sees it: why it is declined (null: it is not), the alarms, whether the witness answers. */
  failover?: { declined: string | null; alarms: string[]; witness: boolean | null };
}

export interface ClusterOpResults {
  'cluster.create': ClusterRecord;
  'cluster.join': ClusterRecord;
  'cluster.status': ClusterStatus;
  'node.offline': { node: string; moved: Array<{ pool: string; to: string }>; clusterDestroyed: boolean; exported: string[] };
  'node.online': ClusterRecord;
  'node.remove': ClusterRecord;
  'maintenance.set': ClusterRecord;
}

export function clusterOpSubject(op: ClusterOperation): string {
  return `tandem.cluster.rm.${op}`;
}
