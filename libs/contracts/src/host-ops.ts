import { z } from 'zod';
import {
  datasetNameSchema,
  holdTagSchema,
  interfaceNameSchema,
  ipAddressSchema,
  poolNameSchema,
  prefixLengthSchema,
  safePathSchema,
  shareNameSchema,
  snapshotNameSchema,
  snapshotShortNameSchema,
  vdevFileNameSchema,
} from './names';

/**
 * host-executor's operations: the only way anything in Tandem touches the OS.
 * Each is requested on tandem.node.<nodeId>.exec.<operation> with the request below and
 * answered with Reply<result>. Version 1; add fields, never change their meaning.
 */
export const HOST_OPS_VERSION = 1;

const epoch = z.number().int().min(0).optional();

export const hostOpRequests = {
  'node.info': z.object({}).strict(),

  'pool.list': z.object({}).strict(),
  'pool.status': z.object({ pool: poolNameSchema }).strict(),
  'pool.importable': z.object({}).strict(),
  'pool.import': z.object({ pool: poolNameSchema, force: z.boolean().default(false), epoch }).strict(),
  'pool.export': z
    .object({
      pool: poolNameSchema,
      force: z.boolean().default(false),
      /**
       * The node must let go of the pool (an automatic failover away from it): the export is
       * forced, and when it has not finished after this many ms (a pool whose disks no longer
       * answer never does) the node fences itself harder (TANDEM_HARD_FENCE).
       */
      hardFenceAfterMs: z.number().int().min(100).max(600_000).optional(),
    })
    .strict(),
  'pool.create': z
    .object({
      pool: poolNameSchema,
      vdevs: z.array(vdevFileNameSchema).min(1).max(16),
      sizeMiB: z.number().int().min(64).max(65536).default(256),
      mountpoint: safePathSchema.optional(),
    })
    .strict(),
  'pool.destroy': z.object({ pool: poolNameSchema, force: z.boolean().default(false) }).strict(),

  'dataset.list': z.object({ root: datasetNameSchema }).strict(),
  'dataset.create': z.object({ dataset: datasetNameSchema }).strict(),

  'snapshot.create': z.object({ dataset: datasetNameSchema, name: snapshotShortNameSchema, recursive: z.boolean().default(false) }).strict(),
  'snapshot.list': z.object({ dataset: datasetNameSchema, recursive: z.boolean().default(false) }).strict(),
  'snapshot.destroy': z.object({ snapshot: snapshotNameSchema }).strict(),
  'snapshot.hold': z.object({ snapshot: snapshotNameSchema, tag: holdTagSchema }).strict(),
  'snapshot.release': z.object({ snapshot: snapshotNameSchema, tag: holdTagSchema }).strict(),

  /** Start `zfs receive` fed from a NATS byte stream; answers with the subject to send to. */
  'stream.receive': z.object({ dataset: datasetNameSchema, force: z.boolean().default(false) }).strict(),
  /** Run `zfs send` (full, or incremental from `base`) and push it to a receiver's subject. */
  'stream.send': z
    .object({
      snapshot: snapshotNameSchema,
      base: snapshotNameSchema.optional(),
      subject: z.string().regex(/^tandem\.node\.[a-z0-9-]+\.stream\.[A-Za-z0-9]{8,64}$/, 'must be a stream subject from stream.receive'),
    })
    .strict(),

  'ip.list': z.object({ interface: interfaceNameSchema.optional() }).strict(),
  'ip.add': z
    .object({
      interface: interfaceNameSchema,
      address: ipAddressSchema,
      prefix: prefixLengthSchema,
      arp: z.boolean().default(true),
      pool: poolNameSchema.optional(),
      epoch,
    })
    .strict(),
  'ip.remove': z.object({ interface: interfaceNameSchema, address: ipAddressSchema, prefix: prefixLengthSchema }).strict(),
  'link.list': z.object({}).strict(),

  'share.start': z
    .object({
      pool: poolNameSchema,
      name: shareNameSchema,
      protocol: z.enum(['smb', 'nfs']),
      path: safePathSchema,
      addresses: z.array(ipAddressSchema).min(1).max(32),
      readOnly: z.boolean().default(false),
    })
    .strict(),
  'share.stop': z.object({ pool: poolNameSchema, name: shareNameSchema.optional(), protocol: z.enum(['smb', 'nfs']).optional() }).strict(),
  'share.list': z.object({}).strict(),
} as const;

export type HostOperation = keyof typeof hostOpRequests;
export const HOST_OPERATIONS = Object.keys(hostOpRequests) as HostOperation[];
export type HostOpRequest<O extends HostOperation> = z.input<(typeof hostOpRequests)[O]>;
export type HostOpParsed<O extends HostOperation> = z.output<(typeof hostOpRequests)[O]>;

export function isHostOperation(op: string): op is HostOperation {
  return Object.prototype.hasOwnProperty.call(hostOpRequests, op);
}

/** SUSPENDED: ZFS stopped all I/O to the pool after its devices failed (it cannot serve until `zpool clear`). */
export type PoolHealth = 'ONLINE' | 'DEGRADED' | 'FAULTED' | 'OFFLINE' | 'UNAVAIL' | 'REMOVED' | 'SUSPENDED' | 'UNKNOWN';

export interface PoolSummary {
  name: string;
  guid: string;
  health: PoolHealth;
  sizeBytes: number;
  allocatedBytes: number;
  freeBytes: number;
}

export interface PoolStatus {
  name: string;
  state: PoolHealth;
  errors: string;
  vdevs: Array<{ name: string; state: PoolHealth; read: number; write: number; cksum: number; depth: number }>;
}

export interface ImportablePool {
  name: string;
  id: string;
  state: PoolHealth;
  devices: string[];
}

export interface DatasetInfo {
  name: string;
  type: 'filesystem' | 'volume';
  mountpoint: string | null;
  usedBytes: number;
  availableBytes: number;
}

export interface SnapshotInfo {
  name: string;
  dataset: string;
  snapshot: string;
  guid: string;
  createdAt: string;
  userrefs: number;
}

export interface AddressInfo {
  interface: string;
  address: string;
  prefix: number;
  family: 4 | 6;
}

export interface LinkInfo {
  name: string;
  up: boolean;
  carrier: boolean;
  mtu: number;
  mac: string | null;
}

export interface ShareInfo {
  pool: string;
  name: string;
  protocol: 'smb' | 'nfs';
  path: string;
  addresses: string[];
  running: boolean;
  pid?: number;
}

export interface NodeInfo {
  nodeId: string;
  hostname: string;
  deviceDir: string;
  zfsAvailable: boolean;
  version: string;
  /** The node's ownership lease: armed (a witness was reached once), fresh, and the managed pools it runs. */
  ownership?: { armed: boolean; fresh: boolean; lastRenewalMsAgo: number | null; held: string[] };
}

/** `changed` says whether the call did something (false = it was already so: idempotent no-op). */
export interface ChangeResult {
  changed: boolean;
}

export interface HostOpResults {
  'node.info': NodeInfo;
  'pool.list': PoolSummary[];
  'pool.status': PoolStatus;
  'pool.importable': ImportablePool[];
  'pool.import': ChangeResult & { pool: PoolSummary; epoch?: number };
  /** `hardFenced`: the export did not finish in time and the node fenced itself harder (the pool is gone from it). */
  'pool.export': ChangeResult & { hardFenced?: boolean };
  'pool.create': ChangeResult & { pool: PoolSummary };
  'pool.destroy': ChangeResult;
  'dataset.list': DatasetInfo[];
  'dataset.create': ChangeResult;
  'snapshot.create': ChangeResult & { snapshot: SnapshotInfo };
  'snapshot.list': SnapshotInfo[];
  'snapshot.destroy': ChangeResult;
  'snapshot.hold': ChangeResult & { userrefs: number };
  'snapshot.release': ChangeResult & { userrefs: number };
  'stream.receive': { subject: string; streamId: string };
  'stream.send': { bytes: number; received: SnapshotInfo | null };
  'ip.list': AddressInfo[];
  'ip.add': ChangeResult & { arpSent: number };
  'ip.remove': ChangeResult;
  'link.list': LinkInfo[];
  'share.start': ChangeResult & { share: ShareInfo };
  'share.stop': ChangeResult;
  'share.list': ShareInfo[];
}
