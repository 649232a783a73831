import { z } from 'zod';
import {
  epochSchema,
  cidrSchema,
  datasetNameSchema,
  nodeIdSchema,
  holdTagSchema,
  interfaceNameSchema,
  ipAddressSchema,
  lunNameSchema,
  poolDevicesSchema,
  poolNameSchema,
  prefixLengthSchema,
  safePathSchema,
  shareNameSchema,
  shareUserNameSchema,
  snapshotNameSchema,
  snapshotShortNameSchema,
  vdevFileNameSchema,
} from './names';
import { hookRunRequestSchema, hookRunResultSchema } from './hooks';

/**
 * host-executor's operations: the only way anything in Tandem touches the OS.
 * Each is requested on tandem.node.<nodeId>.exec.<operation> with the request below and
 * answered with Reply<result>. Version 1; add fields, never change their meaning.
 */
export const HOST_OPS_VERSION = 1;

const epoch = epochSchema.optional();

/** A LUN's size in bytes: a multiple of 512, from 1 MiB to 64 TiB. */
export const lunSizeSchema = z
  .number()
  .int('must be a whole number of bytes')
  .min(1024 * 1024, 'must be at least 1 MiB')
  .max(64 * 1024 ** 4, 'must be at most 64 TiB')
  .refine((n) => n % 512 === 0, 'must be a multiple of 512 bytes');

/** A LUN's size as an operator writes it (64M, 10G, 1T, or bytes): bytes; undefined when it is not a whole size that is a multiple of 512. */
export function parseLunSizeText(text: string): number | undefined {
  const m = /^(\d+)([KMGT]?)$/i.exec(text.trim());
  if (!m) return undefined;
  const mult = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4 }[m[2].toUpperCase() as '' | 'K' | 'M' | 'G' | 'T'];
  const bytes = Number(m[1]) * mult;
  return Number.isSafeInteger(bytes) && bytes > 0 && bytes % 512 === 0 ? bytes : undefined;
}

/** One LUN of a pool's target: its name (and backing), its number (1-255) and size. */
export const lunTargetSchema = z.object({ name: lunNameSchema, number: z.number().int().min(1).max(255), sizeBytes: lunSizeSchema }).strict();

/** CHAP of a target: the user initiators log in as and its secret (12-16 characters, as Windows and most initiators require). */
export const chapSchema = z
  .object({
    user: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,63}$/, 'must be 1-64 letters, digits, _ . : @ -'),
    secret: z
      .string()
      .min(12, 'must be at least 12 characters')
      .max(16, 'must be at most 16 characters')
      // letters, digits and punctuation a shell, a path or a configuration file gives no meaning to
      .regex(/^[A-Za-z0-9_.:@+=!#%*,~^-]+$/, 'must be letters, digits and _ . : @ + = ! # % * , ~ ^ - (no spaces, quotes, slashes or shell characters)'),
  })
  .strict();

export const hostOpRequests = {
  'node.info': z.object({}).strict(),

  'pool.list': z.object({}).strict(),
  'pool.status': z.object({ pool: poolNameSchema }).strict(),
  'pool.importable': z.object({}).strict(),
  /**
   * `role`: serve (mounted, writable: the node serving it), replica (a replicated pool's passive
   * copy: imported, never mounted, read-only, written only by zfs receive) or retrieval (a node's
   * own copy after an automatic failover away from it: mounted read-only for an operator, never
   * shared). A pool already imported is brought to the role asked for.
   * `devices`: where the pool's disks were when it was last imported (its record keeps them): the
   * import reads only those disks' labels when they are all there, under the node's own disk
   * directories, instead of scanning every disk (the scan grows with the pools the disks hold).
   */
  'pool.import': z
    .object({
      pool: poolNameSchema,
      force: z.boolean().default(false),
      epoch,
      role: z.enum(['serve', 'replica', 'retrieval']).default('serve'),
      devices: poolDevicesSchema.optional(),
    })
    .strict(),
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
      /** The pool record's fencing epoch: a release that may fence the node harder carries it (a stale or forged one is refused). */
      epoch,
    })
    .strict()
    .refine((r) => r.hardFenceAfterMs === undefined || r.epoch !== undefined, { message: "a release with hardFenceAfterMs must carry the pool record's epoch", path: ['epoch'] }),
  'pool.create': z
    .object({
      pool: poolNameSchema,
      vdevs: z.array(vdevFileNameSchema).min(1).max(16),
      sizeMiB: z.number().int().min(64).max(65536).default(256),
      mountpoint: safePathSchema.optional(),
      /** shared: on the JBOD every node sees; local: on this node's own disks (a replicated pool's copy). */
      disks: z.enum(['shared', 'local']).default('shared'),
    })
    .strict(),
  'pool.destroy': z.object({ pool: poolNameSchema, force: z.boolean().default(false) }).strict(),

  'dataset.list': z.object({ root: datasetNameSchema }).strict(),
  'dataset.create': z
    .object({
      dataset: datasetNameSchema,
      /** Permission bits of its mountpoint afterwards (e.g. `1777`: a directory SMB guests, acting as nobody, may write to). */
      mode: z
        .string()
        .regex(/^[0-7]{3,4}$/, 'must be octal permission bits, e.g. 1777')
        .optional(),
    })
    .strict(),

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

  /**
   * Pull one dataset's snapshots from a peer over Tandem's SSH endpoint into `zfs receive -u`:
   * full (`base` null), or incremental with every intermediate snapshot from `base` (which this
   * node holds). `rollbackTo`: first roll this node's dataset back to that snapshot (the common
   * base; its data after it was kept aside first). The peer's host key must be the pinned one.
   */
  'replication.receive': z
    .object({
      dataset: datasetNameSchema,
      snapshot: snapshotNameSchema,
      base: snapshotNameSchema.nullable(),
      rollbackTo: snapshotNameSchema.nullable().default(null),
      from: nodeIdSchema,
      address: ipAddressSchema,
      port: z.number().int().min(1).max(65535),
      /** Killed when no byte arrives for this long. */
      stallTimeoutMs: z.number().int().min(1_000).max(3_600_000),
      /** For progress: the estimated size of the stream. */
      expectedBytes: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).nullable().default(null),
      /** The replicated pool the transfer belongs to (for progress events). */
      pool: poolNameSchema,
    })
    .strict(),
  /** Keep a replica's current data aside before it is rolled back or overwritten: each dataset copied to `<pool>/tandem-kept/<tag>/…`. */
  'replication.keep-aside': z.object({ pool: poolNameSchema, tag: snapshotShortNameSchema }).strict(),
  /** This node's replication SSH public keys (and a rotation in progress). */
  'ssh.keys': z.object({}).strict(),
  /** Rotate this node's replication keys: `prepare` makes new ones (the old stay in use), `commit` switches to them. */
  'ssh.rotate': z.object({ phase: z.enum(['prepare', 'commit']) }).strict(),

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
      /** Client networks allowed (ADDRESS/PREFIX); empty: every client. */
      clients: z.array(cidrSchema).max(32).default([]),
      /** NFS: squash a client's root to the anonymous user (default). */
      rootSquash: z.boolean().default(true),
      /** SMB: the share users let in (each acts as its own account); none: guests, acting as the node's guest account. */
      users: z.array(shareUserNameSchema).max(64).default([]),
      /**
       * NFS: the pool's root mountpoint. The NFS server keeps its clients' recovery records in
       * `.tandem/nfs-recovery` there, so they move with the pool and clients reclaim their state
       * on the node that takes it over. Absent: on the node (clients cannot reclaim after a move).
       */
      poolRoot: safePathSchema.optional(),
    })
    .strict(),
  'share.stop': z.object({ pool: poolNameSchema, name: shareNameSchema.optional(), protocol: z.enum(['smb', 'nfs']).optional() }).strict(),
  'share.list': z.object({}).strict(),

  /** Run the node's hooks of one point of a pool's start or stop (hooks.ts), each killed with its process group at the timeout. */
  'hook.run': hookRunRequestSchema,
  /**
   * A LUN's backing on the node serving the pool: a zvol (POOL/NAME, /dev/zvol/POOL/NAME) where
   * the node's ZFS has zvols, else a sparse file in the pool (<mountpoint>/.tandem/luns/NAME).
   * Idempotent: an existing backing of that size is kept; a different size is refused.
   */
  'lun.create': z.object({ pool: poolNameSchema, name: lunNameSchema, sizeBytes: lunSizeSchema }).strict(),
  /** Destroys a LUN's backing (its data is gone). Refused while the pool's target serves it. */
  'lun.destroy': z.object({ pool: poolNameSchema, name: lunNameSchema }).strict(),
  /**
   * The pool's iSCSI target on its floating IPs (after they are up), with every LUN of the pool;
   * starting it again with other LUNs adds and removes LUNs on the running target. `fc`: the
   * pool is also exported over Fibre Channel (this node's LIO configuration, ALUA active).
   */
  'iscsi.start': z
    .object({
      pool: poolNameSchema,
      addresses: z.array(ipAddressSchema).max(32),
      luns: z.array(lunTargetSchema).max(255),
      chap: chapSchema.optional(),
      fc: z.boolean().default(false),
      /** FC: the cluster's nodes in their fixed order (each node's ALUA target port group id is its place in it, from 1). */
      fcNodes: z.array(nodeIdSchema).max(64).optional(),
    })
    .strict()
    .superRefine((r, ctx) => {
      const dupes = (xs: Array<string | number>) => xs.find((x, i) => xs.indexOf(x) !== i);
      const n = dupes(r.luns.map((l) => l.number));
      if (n !== undefined) ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['luns'], message: `LUN number ${n} is given twice` });
      const name = dupes(r.luns.map((l) => l.name));
      if (name !== undefined) ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['luns'], message: `LUN ${name} is given twice` });
      if (!r.fc && r.addresses.length === 0) ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['addresses'], message: 'an iSCSI target needs at least one floating IP' });
    }),
  /** Stops the pool's target (iSCSI sessions end; over FC, this node's port group goes to standby). */
  'iscsi.stop': z.object({ pool: poolNameSchema }).strict(),
  'iscsi.list': z.object({}).strict(),
} as const;

export type HostOperation = keyof typeof hostOpRequests;

/** Operations only tests and the demo use: a host-executor answers them only with TANDEM_ENABLE_TEST_OPS=1. */
export const TEST_ONLY_HOST_OPERATIONS = ['pool.create', 'pool.destroy', 'dataset.create', 'stream.receive', 'stream.send'] as const satisfies readonly HostOperation[];
export type TestOnlyHostOperation = (typeof TEST_ONLY_HOST_OPERATIONS)[number];
export const HOST_OPERATIONS = Object.keys(hostOpRequests) as HostOperation[];
export type HostOpRequest<O extends HostOperation> = z.input<(typeof hostOpRequests)[O]>;
export type HostOpParsed<O extends HostOperation> = z.output<(typeof hostOpRequests)[O]>;

export function isHostOperation(op: string): op is HostOperation {
  return Object.prototype.hasOwnProperty.call(hostOpRequests, op);
}

/** SUSPENDED: ZFS stopped all I/O to the pool after its devices failed (it cannot serve until `zpool clear`). */
export const POOL_HEALTHS = ['ONLINE', 'DEGRADED', 'FAULTED', 'OFFLINE', 'UNAVAIL', 'REMOVED', 'SUSPENDED', 'UNKNOWN'] as const;
export const poolHealthSchema = z.enum(POOL_HEALTHS);
export type PoolHealth = z.infer<typeof poolHealthSchema>;

/*
 * The results, one schema each: the host-executor answers with them and every caller parses
 * the answer with the same schema (HostClient) before it trusts it.
 */
export const poolSummarySchema = z.object({
  name: z.string(),
  guid: z.string(),
  health: poolHealthSchema,
  sizeBytes: z.number(),
  allocatedBytes: z.number(),
  freeBytes: z.number(),
});
export type PoolSummary = z.infer<typeof poolSummarySchema>;

export const poolStatusSchema = z.object({
  name: z.string(),
  state: poolHealthSchema,
  errors: z.string(),
  vdevs: z.array(z.object({ name: z.string(), state: poolHealthSchema, read: z.number(), write: z.number(), cksum: z.number(), depth: z.number() })),
});
export type PoolStatus = z.infer<typeof poolStatusSchema>;

export const importablePoolSchema = z.object({ name: z.string(), id: z.string(), state: poolHealthSchema, devices: z.array(z.string()) });
export type ImportablePool = z.infer<typeof importablePoolSchema>;

export const datasetInfoSchema = z.object({
  name: z.string(),
  type: z.enum(['filesystem', 'volume']),
  mountpoint: z.string().nullable(),
  usedBytes: z.number(),
  availableBytes: z.number(),
});
export type DatasetInfo = z.infer<typeof datasetInfoSchema>;

export const snapshotInfoSchema = z.object({
  name: z.string(),
  dataset: z.string(),
  snapshot: z.string(),
  guid: z.string(),
  createdAt: z.string(),
  userrefs: z.number(),
  /** The data the snapshot refers to (an estimate of a full send's size). */
  referencedBytes: z.number().optional(),
});
export type SnapshotInfo = z.infer<typeof snapshotInfoSchema>;

export const addressInfoSchema = z.object({ interface: z.string(), address: z.string(), prefix: z.number(), family: z.union([z.literal(4), z.literal(6)]) });
export type AddressInfo = z.infer<typeof addressInfoSchema>;

export const linkInfoSchema = z.object({ name: z.string(), up: z.boolean(), carrier: z.boolean(), mtu: z.number(), mac: z.string().nullable() });
export type LinkInfo = z.infer<typeof linkInfoSchema>;

export const lunInfoSchema = z.object({
  name: z.string(),
  number: z.number(),
  sizeBytes: z.number(),
  serial: z.string(),
  deviceId: z.string(),
  backing: z.enum(['zvol', 'file']),
  path: z.string(),
});
export type LunInfo = z.infer<typeof lunInfoSchema>;

export const iscsiTargetInfoSchema = z.object({
  pool: z.string(),
  iqn: z.string(),
  addresses: z.array(z.string()),
  luns: z.array(lunInfoSchema),
  chap: z.boolean(),
  running: z.boolean(),
  pid: z.number().optional(),
  /** Over FC: where this node's LIO configuration was written, and its ALUA role. */
  fc: z
    .object({ config: z.string(), role: z.enum(['active', 'standby']) })
    .nullable()
    .optional(),
});
export type IscsiTargetInfo = z.infer<typeof iscsiTargetInfoSchema>;

export const shareInfoSchema = z.object({
  pool: z.string(),
  name: z.string(),
  protocol: z.enum(['smb', 'nfs']),
  path: z.string(),
  addresses: z.array(z.string()),
  running: z.boolean(),
  pid: z.number().optional(),
});
export type ShareInfo = z.infer<typeof shareInfoSchema>;

export const nodeInfoSchema = z.object({
  nodeId: z.string(),
  hostname: z.string(),
  deviceDir: z.string(),
  zfsAvailable: z.boolean(),
  version: z.string(),
  /** The node's ownership lease: armed (a witness was reached once), fresh, and the managed pools it runs. */
  ownership: z.object({ armed: z.boolean(), fresh: z.boolean(), lastRenewalMsAgo: z.number().nullable(), held: z.array(z.string()) }).optional(),
});
export type NodeInfo = z.infer<typeof nodeInfoSchema>;

/** `changed` says whether the call did something (false = it was already so: idempotent no-op). */
const changed = z.object({ changed: z.boolean() });
export type ChangeResult = z.infer<typeof changed>;

export const hostOpResults = {
  'node.info': nodeInfoSchema,
  'pool.list': z.array(poolSummarySchema),
  'pool.status': poolStatusSchema,
  'pool.importable': z.array(importablePoolSchema),
  /**
   * `devices`: the disks it was imported from, when the import knew them all (absent: the pool was
   * imported already, or found on disks not all healthy); `mountpoint`: its root filesystem's
   * mountpoint now (null: none), so that the caller need not ask.
   */
  'pool.import': changed.extend({ pool: poolSummarySchema, epoch: z.number().optional(), devices: z.array(z.string()).optional(), mountpoint: z.string().nullable().optional() }),
  /** `hardFenced`: the export did not finish in time and the node fenced itself harder (the pool is gone from it). */
  'pool.export': changed.extend({ hardFenced: z.boolean().optional() }),
  'pool.create': changed.extend({ pool: poolSummarySchema }),
  'pool.destroy': changed,
  'dataset.list': z.array(datasetInfoSchema),
  'dataset.create': changed,
  'snapshot.create': changed.extend({ snapshot: snapshotInfoSchema }),
  'snapshot.list': z.array(snapshotInfoSchema),
  'snapshot.destroy': changed,
  'snapshot.hold': changed.extend({ userrefs: z.number() }),
  'snapshot.release': changed.extend({ userrefs: z.number() }),
  'stream.receive': z.object({ subject: z.string(), streamId: z.string() }),
  'stream.send': z.object({ bytes: z.number(), received: snapshotInfoSchema.nullable() }),
  'ip.list': z.array(addressInfoSchema),
  'ip.add': changed.extend({ arpSent: z.number() }),
  'ip.remove': changed,
  'link.list': z.array(linkInfoSchema),
  'replication.receive': z.object({ bytes: z.number(), ms: z.number(), received: snapshotInfoSchema.nullable() }),
  'replication.keep-aside': z.object({ kept: z.string(), datasets: z.array(z.string()) }),
  'ssh.keys': z.object({ hostKey: z.string(), clientKey: z.string(), pending: z.object({ hostKey: z.string(), clientKey: z.string() }).nullable() }),
  'ssh.rotate': z.object({ hostKey: z.string(), clientKey: z.string() }),
  'share.start': changed.extend({ share: shareInfoSchema }),
  'share.stop': changed,
  'share.list': z.array(shareInfoSchema),
  'hook.run': hookRunResultSchema,
  'lun.create': changed.extend({ backing: z.enum(['zvol', 'file']), path: z.string() }),
  'lun.destroy': changed,
  'iscsi.start': changed.extend({ target: iscsiTargetInfoSchema }),
  'iscsi.stop': changed,
  'iscsi.list': z.array(iscsiTargetInfoSchema),
} as const satisfies Record<HostOperation, z.ZodTypeAny>;

export type HostOpResults = { [O in HostOperation]: z.infer<(typeof hostOpResults)[O]> };
