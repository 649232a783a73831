import { z } from 'zod';
import { clusterRecordSchema, type ClusterRecord } from './cluster-ops';
import { SHARE_USER_UIDS, nodeIdSchema, poolNameSchema, shareUserNameSchema } from './names';
import { haPoolSchema, type HaPool } from './pool-ops';
import { replicationStateSchema, type ReplicationState } from './replication';
import { shareUserRecordSchema, type ShareUserRecord } from './share-users';
import { chapSchema } from './host-ops';
import { CLUSTER_BUCKET, ISCSI_CHAP_BUCKET, LEASES_BUCKET, OWNERSHIP_BUCKET, POOLS_BUCKET, REPLICATION_BUCKET, SHARE_USERS_BUCKET, type KvBucketDeclaration } from './streams';

/**
 * Every record Tandem keeps in a JetStream KV bucket: its bucket, how its key is spelled, and
 * its schema. Writers validate before they write, readers parse what they read; a value that does
 * not parse is never taken for a record. Version 1: add optional fields, never change a meaning.
 */
export interface KvRecordDeclaration<T> {
  /** What the record is, for messages ("pool record", "cluster record"). */
  name: string;
  bucket: KvBucketDeclaration;
  schema: z.ZodType<T, z.ZodTypeDef, unknown>;
  /** The key of the record with this id. */
  key(id: string): string;
  /** A subject filter matching the keys of every record of this kind. */
  keyFilter: string;
  /** The id of a key of this kind, or null when the key is not one. */
  idOf(key: string): string | null;
}

function prefixed<T>(name: string, bucket: KvBucketDeclaration, prefix: string, schema: z.ZodType<T, z.ZodTypeDef, unknown>, id: z.ZodTypeAny): KvRecordDeclaration<T> {
  return {
    name,
    bucket,
    schema,
    key: (v) => `${prefix}.${id.parse(v) as string}`,
    keyFilter: `${prefix}.*`,
    idOf: (key) => (key.startsWith(`${prefix}.`) ? key.slice(prefix.length + 1) : null),
  };
}

/** An HA pool under cluster control, by pool name. Written only with compare-and-set. */
export const POOL_RECORD: KvRecordDeclaration<HaPool> = prefixed('pool record', POOLS_BUCKET, 'pool', haPoolSchema, z.string().min(1));

/** The one cluster record (id `cluster`). Written only with compare-and-set. */
export const CLUSTER_RECORD: KvRecordDeclaration<ClusterRecord> = {
  name: 'cluster record',
  bucket: CLUSTER_BUCKET,
  schema: clusterRecordSchema,
  key: () => 'cluster',
  keyFilter: 'cluster',
  idOf: (key) => (key === 'cluster' ? 'cluster' : null),
};
export const CLUSTER_RECORD_ID = 'cluster';

/** A node's ownership lease on the witness (OWNERSHIP_BUCKET), by node id: renewed by the node's host-executor. */
export const ownershipLeaseSchema = z.object({
  node: nodeIdSchema,
  /** Grows with every renewal (a restart starts again from the wall clock in ms). */
  seq: z.number().int(),
});
export type OwnershipLease = z.infer<typeof ownershipLeaseSchema>;
export const OWNERSHIP_LEASE_RECORD: KvRecordDeclaration<OwnershipLease> = prefixed('ownership lease', OWNERSHIP_BUCKET, 'node', ownershipLeaseSchema, nodeIdSchema);

/** The lease of the one active instance of a service (resource-manager, replication-scheduler), by service name. */
export const leaderLeaseSchema = z.object({
  /** The node whose instance is active; null: handed over (the holder stopped). */
  holder: nodeIdSchema.nullable(),
});
export type LeaderLease = z.infer<typeof leaderLeaseSchema>;
export const LEADER_LEASE_RECORD: KvRecordDeclaration<LeaderLease> = prefixed('leader lease', LEASES_BUCKET, 'leader', leaderLeaseSchema, z.string().regex(/^[a-z][a-z-]*$/));

/** The replication state of a replicated pool, by pool name: written by the active replication-scheduler only. */
export const REPLICATION_RECORD: KvRecordDeclaration<ReplicationState> = prefixed('replication record', REPLICATION_BUCKET, 'pool', replicationStateSchema, z.string().min(1));

/** An SMB share user, by name: written by the resource-manager only, read by it and the host-executors (nobody else may read the bucket). */
export const SHARE_USER_RECORD: KvRecordDeclaration<ShareUserRecord> = prefixed('share user record', SHARE_USERS_BUCKET, 'user', shareUserRecordSchema, shareUserNameSchema);

/** The next uid to give a share user: it only grows, so a new user never owns the files of a removed one. */
export const shareUserUidSchema = z.object({ next: z.number().int().min(SHARE_USER_UIDS.min) });
export type ShareUserUid = z.infer<typeof shareUserUidSchema>;
export const SHARE_USER_UID_RECORD: KvRecordDeclaration<ShareUserUid> = {
  name: 'share user uid counter',
  bucket: SHARE_USERS_BUCKET,
  schema: shareUserUidSchema,
  key: () => 'next-uid',
  keyFilter: 'next-uid',
  idOf: (key) => (key === 'next-uid' ? 'next-uid' : null),
};

/** The iSCSI CHAP of a pool's target, by pool name: written and read by the resource-manager only (nobody else may read the bucket). */
export const iscsiChapRecordSchema = chapSchema.extend({ pool: poolNameSchema, setAt: z.string().datetime() }).strict();
export type IscsiChapRecord = z.infer<typeof iscsiChapRecordSchema>;
export const ISCSI_CHAP_RECORD: KvRecordDeclaration<IscsiChapRecord> = prefixed('iSCSI CHAP record', ISCSI_CHAP_BUCKET, 'pool', iscsiChapRecordSchema, poolNameSchema);
