import type { z } from 'zod';
import { clusterOpRequests, clusterOpResults, type ClusterOperation } from './cluster-ops';
import { poolOpRequests, poolOpResults, type PoolOperation } from './pool-ops';
import { shareUserOpRequests, shareUserOpResults, type ShareUserOperation } from './share-users';
import { resourceManagerSubject } from './subjects';

/**
 * Everything the active resource-manager answers on tandem.cluster.rm.<operation>: the pool
 * operations (pool-ops.ts), the cluster operations (cluster-ops.ts) and the share users (share-users.ts), each with its request
 * and result schema. Served only by the node that holds the resource-manager lease.
 */
export const rmOpRequests = { ...poolOpRequests, ...clusterOpRequests, ...shareUserOpRequests } as const;
export const rmOpResults = { ...poolOpResults, ...clusterOpResults, ...shareUserOpResults } as const;

export type RmOperation = PoolOperation | ClusterOperation | ShareUserOperation;
export type RmOpRequest<O extends RmOperation> = z.input<(typeof rmOpRequests)[O]>;
export type RmOpParsed<O extends RmOperation> = z.output<(typeof rmOpRequests)[O]>;
export type RmOpResults = { [O in RmOperation]: z.infer<(typeof rmOpResults)[O]> };

export const RM_OPERATIONS = Object.keys(rmOpRequests) as RmOperation[];

export function isRmOperation(op: string): op is RmOperation {
  return Object.prototype.hasOwnProperty.call(rmOpRequests, op);
}

export function rmSubject(op: RmOperation): string {
  return resourceManagerSubject(op);
}
