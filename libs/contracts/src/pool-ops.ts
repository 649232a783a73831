import { z } from 'zod';
import { replicationScheduleSchema, syncLockSchema } from './replication';
import { SNAPSHOT_SCHEDULES_PER_POOL, scheduleIntervalSchema, scheduleNameSchema, snapshotScheduleSchema } from './snapshot-schedules';
import { chapSchema, lunSizeSchema, lunTargetSchema } from './host-ops';
import {
  actorSchema,
  cidrSchema,
  lunNameSchema,
  interfaceNameSchema,
  ipAddressSchema,
  nodeIdSchema,
  parseCidr,
  poolDevicesSchema,
  poolNameSchema,
  safePathSchema,
  shareNameSchema,
  shareUserNameSchema,
} from './names';

/**
 * HA pool operations: answered by the active resource-manager (rm-ops.ts), called by every
 * api-gateway. Version 1.
 */
export const vipSpecSchema = z
  .string()
  .refine((v) => /^[^:]+:.+$/.test(v), 'must be INTERFACE:ADDRESS/PREFIX, e.g. cli0:10.77.3.50/24')
  .transform((v, ctx) => {
    const i = v.indexOf(':');
    const iface = v.slice(0, i);
    const cidr = parseCidr(v.slice(i + 1));
    if (!interfaceNameSchema.safeParse(iface).success) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: `interface "${iface}" is not a valid interface name` });
      return z.NEVER;
    }
    if (!cidr) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: `"${v.slice(i + 1)}" is not ADDRESS/PREFIX with a prefix valid for the address` });
      return z.NEVER;
    }
    return { interface: iface, address: cidr.address, prefix: cidr.prefix };
  });

export const floatingIpSchema = z.object({ interface: interfaceNameSchema, address: ipAddressSchema, prefix: z.number().int().min(1).max(128) }).strict();
export type FloatingIp = z.infer<typeof floatingIpSchema>;

export const shareSpecSchema = z
  .object({
    name: shareNameSchema,
    protocol: z.enum(['smb', 'nfs']),
    /** Path relative to the pool's mountpoint ('' = the pool's root dataset). */
    path: z
      .string()
      .regex(/^(|[A-Za-z0-9_.:-]+(\/[A-Za-z0-9_.:-]+)*)$/, 'must be a relative path inside the pool')
      .refine((p) => !p.split('/').includes('..'), 'must not contain ..')
      .default(''),
    readOnly: z.boolean().default(false),
    /** Who may reach the share: client networks (ADDRESS/PREFIX); empty, every client that reaches the floating IP. */
    clients: z.array(cidrSchema).max(32).default([]),
    /** NFS: a client's root acts as the anonymous user (65534) unless this is false. SMB shares ignore it. */
    rootSquash: z.boolean().default(true),
    /** SMB: the share users (`tandem share user add`) it lets in, each acting as its own account. */
    users: z.array(shareUserNameSchema).max(64).default([]),
    /** SMB: anyone gets in without a password, acting as the node's unprivileged guest account (never root). */
    guest: z.boolean().default(false),
  })
  .strict();
export type ShareSpec = z.infer<typeof shareSpecSchema>;

/**
 * An SMB share says who gets in: its users, or explicitly guests; an NFS share has neither (it is
 * limited by client networks). Checked on every request that gives shares (a record written
 * before these fields existed serves guests, as it did).
 */
export function checkShareAccess(shares: ReadonlyArray<z.output<typeof shareSpecSchema>>, ctx: z.RefinementCtx, at: Array<string | number> = ['shares']): void {
  shares.forEach((s, i) => {
    const dupes = s.users.filter((u, j) => s.users.indexOf(u) !== j);
    if (dupes.length) ctx.addIssue({ code: z.ZodIssueCode.custom, path: [...at, i, 'users'], message: `share ${s.name} names ${dupes[0]} twice` });
    if (s.protocol === 'nfs' && (s.users.length > 0 || s.guest))
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: [...at, i, s.guest ? 'guest' : 'users'], message: `share ${s.name} is NFS: it has no users or guests; limit it by client networks (clients)` });
    if (s.protocol === 'smb' && s.users.length === 0 && !s.guest)
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        path: [...at, i, 'users'],
        message: `SMB share ${s.name} needs its users (share users added with tandem share user add) or guest access said explicitly`,
      });
    if (s.protocol === 'smb' && s.users.length > 0 && s.guest)
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: [...at, i, 'guest'], message: `SMB share ${s.name} has users: it cannot also let guests in` });
  });
}

/** A LUN asked for: its name and size (numbered by the cluster). */
export const lunSpecSchema = z.object({ name: lunNameSchema, sizeBytes: lunSizeSchema }).strict();

export const poolOpRequests = {
  'pool.list': z.object({}).strict(),
  'pool.get': z.object({ pool: poolNameSchema }).strict(),
  'pool.attach': z
    .object({
      pool: poolNameSchema,
      node: nodeIdSchema,
      vips: z.array(vipSpecSchema).max(16).default([]),
      fc: z.boolean().default(false),
      shares: z.array(shareSpecSchema).max(32).default([]),
      /** iSCSI (and, with fc, Fibre Channel) LUNs made in the pool and served by its target; numbered from 1 in this order. */
      luns: z.array(lunSpecSchema).max(255).default([]),
      /** Shared nothing: every node has its own pool of this name, kept in sync by snapshot replication; `node` is the first active. */
      replicated: z.boolean().default(false),
      actor: actorSchema.default('operator'),
    })
    .strict()
    .superRefine((r, ctx) => {
      if (!r.fc && r.vips.length === 0) ctx.addIssue({ code: z.ZodIssueCode.custom, message: 'give at least one floating IP (--vip IF:ADDRESS/PREFIX) or --fc', path: ['vips'] });
      checkShareAccess(r.shares, ctx);
      const dupe = r.luns.map((l) => l.name).find((n, i, all) => all.indexOf(n) !== i);
      if (dupe !== undefined) ctx.addIssue({ code: z.ZodIssueCode.custom, message: `LUN ${dupe} is given twice`, path: ['luns'] });
    }),
  /** Adds a LUN to a pool: its backing made on the serving node, then served by the pool's target. */
  'pool.lun-add': z.object({ pool: poolNameSchema, name: lunNameSchema, sizeBytes: lunSizeSchema, actor: actorSchema.default('operator') }).strict(),
  /** Takes a LUN out of the pool's target and destroys its backing (its data is gone). */
  'pool.lun-remove': z.object({ pool: poolNameSchema, name: lunNameSchema, actor: actorSchema.default('operator') }).strict(),
  'pool.lun-list': z.object({ pool: poolNameSchema }).strict(),
  /** Initiators must log in to the pool's target with CHAP as `user` and `secret` (on the node serving it now, and wherever it moves). */
  'pool.chap-set': chapSchema.extend({ pool: poolNameSchema, actor: actorSchema.default('operator') }).strict(),
  /** The pool's target lets initiators in without CHAP again. */
  'pool.chap-clear': z.object({ pool: poolNameSchema, actor: actorSchema.default('operator') }).strict(),
  'pool.move': z.object({ pool: poolNameSchema, to: nodeIdSchema, actor: actorSchema.default('operator') }).strict(),
  'pool.detach': z.object({ pool: poolNameSchema, actor: actorSchema.default('operator') }).strict(),
  'pool.export': z.object({ pool: poolNameSchema, actor: actorSchema.default('operator') }).strict(),
  'pool.reattach': z.object({ pool: poolNameSchema, node: nodeIdSchema, actor: actorSchema.default('operator') }).strict(),
  'pool.remove': z.object({ pool: poolNameSchema, actor: actorSchema.default('operator') }).strict(),
  /** The operator says the pool may run on `node` again after it failed there. */
  'pool.mark-usable': z.object({ pool: poolNameSchema, node: nodeIdSchema, actor: actorSchema.default('operator') }).strict(),
  /** Add a snapshot schedule to the pool (or change the one of that name): every `every` (`15m`, `2h`, `1d`; at least 10s) a recursive snapshot, the newest `keep` kept. */
  'pool.schedule-add': z
    .object({ pool: poolNameSchema, name: scheduleNameSchema, every: scheduleIntervalSchema, keep: z.number().int().min(1).max(1000), actor: actorSchema.default('operator') })
    .strict(),
  /** Drop a snapshot schedule (its snapshots stay: destroy them with zfs when they are no longer wanted). */
  'pool.schedule-remove': z.object({ pool: poolNameSchema, name: scheduleNameSchema, actor: actorSchema.default('operator') }).strict(),
} as const;

export type PoolOperation = keyof typeof poolOpRequests;
export type PoolOpRequest<O extends PoolOperation> = z.input<(typeof poolOpRequests)[O]>;
export type PoolOpParsed<O extends PoolOperation> = z.output<(typeof poolOpRequests)[O]>;

/** serving: imported and served on `node`; in-transition: an operation runs; inactive: not served, with a reason. */
export const haPoolStateSchema = z.enum(['serving', 'in-transition', 'inactive']);
export type HaPoolState = z.infer<typeof haPoolStateSchema>;

/** An HA pool under cluster control: the record kept in the pools KV bucket (POOL_RECORD) and answered by the pool operations. */
export const haPoolSchema = z.object({
  name: poolNameSchema,
  state: haPoolStateSchema,
  node: nodeIdSchema.nullable(),
  /** What runs now, while in transition (attach, move, export, reattach, ...). */
  operation: z.string().nullable(),
  reason: z.string().nullable(),
  vips: z.array(floatingIpSchema),
  shares: z.array(shareSpecSchema),
  fc: z.boolean(),
  /** LUNs served by the pool's iSCSI target (and over FC with fc); absent in a record written before LUNs existed: none. */
  luns: z.array(lunTargetSchema).optional(),
  /** Fencing epoch: grows with every change of owner. */
  epoch: z.number().int().min(0),
  mountpoint: z.string().nullable(),
  updatedAt: z.string(),
  /** Nodes the pool failed on (automatic failover away from them); it never goes back there by itself until `pool mark-usable`. */
  failedOn: z.array(nodeIdSchema).optional(),
  /** When the pool last moved automatically (ISO time): the hold-down counts from here. */
  lastFailoverAt: z.string().nullable().optional(),
  /** `shared` (one JBOD, imported on one node at a time; when absent) or `replicated` (every node its own pool, kept in sync). */
  mode: z.enum(['shared', 'replicated']).optional(),
  /** Replicated only: this pool's own schedule, overriding the cluster's. */
  replication: replicationScheduleSchema.partial().optional(),
  /** Replicated only: set by an automatic failover, cleared by `tandem replication resume`; nothing replicates while it is set. */
  syncLock: syncLockSchema.nullable().optional(),
  /** Snapshot schedules, carried out by whichever node serves the pool (snapshot-schedules.ts). */
  snapshotSchedules: z.array(snapshotScheduleSchema).max(SNAPSHOT_SCHEDULES_PER_POOL).optional(),
  /**
   * Shared pools: where its disks were when it was last imported (written with the record that
   * says it serves). The next import, a failover's above all, reads only those disks instead of
   * scanning every disk the node sees; absent (a record from before, or disks not all healthy then): a scan.
   */
  devices: poolDevicesSchema.optional(),
});
export type HaPool = z.infer<typeof haPoolSchema>;

/** A pool's target as initiators see it: the same name, numbers and identifiers on every node. */
export const poolLunsSchema = z.object({
  pool: z.string(),
  iqn: z.string(),
  /** ADDRESS:3260 of each floating IP. */
  portals: z.array(z.string()),
  fc: z.boolean(),
  luns: z.array(z.object({ name: z.string(), number: z.number(), sizeBytes: z.number(), serial: z.string(), deviceId: z.string() })),
  /** The CHAP user initiators log in as (never its secret); null: no CHAP. */
  chapUser: z.string().nullable().optional(),
});
export type PoolLuns = z.infer<typeof poolLunsSchema>;

export const poolOpResults = {
  'pool.list': z.array(haPoolSchema),
  'pool.get': haPoolSchema,
  /** `warnings`: what the operator should know (pools of unequal sizes on a replicated attach). */
  'pool.attach': haPoolSchema.extend({ warnings: z.array(z.string()).optional() }),
  /** `finalSync`: a replicated pool's last snapshot sent to the new active before it started there. */
  'pool.move': haPoolSchema.extend({ finalSync: z.object({ snapshot: z.string(), bytes: z.number(), ms: z.number() }).nullable().optional() }),
  'pool.detach': z.object({ pool: z.string(), node: z.string().nullable() }),
  'pool.export': haPoolSchema,
  'pool.reattach': haPoolSchema,
  'pool.remove': z.object({ pool: z.string() }),
  'pool.mark-usable': haPoolSchema,
  'pool.schedule-add': haPoolSchema,
  'pool.schedule-remove': haPoolSchema,
  'pool.lun-add': haPoolSchema,
  'pool.lun-remove': haPoolSchema,
  'pool.lun-list': poolLunsSchema,
  'pool.chap-set': poolLunsSchema,
  'pool.chap-clear': poolLunsSchema,
} as const satisfies Record<PoolOperation, z.ZodTypeAny>;

export type PoolOpResults = { [O in PoolOperation]: z.infer<(typeof poolOpResults)[O]> };

/** Relative share path → absolute path under the pool's mountpoint. */
export function sharePath(mountpoint: string, rel: string): string {
  const p = rel ? `${mountpoint.replace(/\/+$/, '')}/${rel}` : mountpoint;
  return safePathSchema.parse(p);
}
