import { z } from 'zod';
import { ipAddressSchema, nodeIdSchema, poolNameSchema, snapshotNameSchema } from './names';

/**
 * Shared-nothing HA pools (mode `replicated`): every node has its own pool of the same name; the
 * active node serves it and takes snapshots on an interval, the passive nodes pull what they miss
 * over SSH (`zfs send -I` → `zfs receive -u`). Version 1; add fields, never change a meaning.
 */

/** Tandem's own snapshots: `tandem-<UTC yyyymmdd-hhmmss>`, sortable by name; nothing else is ever expired by Tandem. */
export const TANDEM_SNAPSHOT_PREFIX = 'tandem-';
/** Where a replica's diverged data is kept aside, never destroyed: `<pool>/tandem-kept/<stamp>[/<dataset>]`, not mounted, never replicated. */
export const KEPT_DATASET = 'tandem-kept';
/** A ZFS hold per node pair on the snapshot the passive needs as its next incremental base: `tandem-base-<passive node>`. */
export const baseHoldTag = (passive: string) => `tandem-base-${nodeIdSchema.parse(passive)}`;

export function tandemSnapshotName(at: Date): string {
  const iso = at.toISOString(); // 2026-12-03T23:55:01.123Z
  return `${TANDEM_SNAPSHOT_PREFIX}${iso.slice(0, 10).replace(/-/g, '')}-${iso.slice(11, 19).replace(/:/g, '')}`;
}
export function isTandemSnapshot(shortName: string): boolean {
  return /^tandem-\d{8}-\d{6}$/.test(shortName);
}

/** `30s`, `15m`, `2h`, `1d` → seconds (a whole number of seconds, at least 1). */
/** The longest interval or timeout a setting may have. */
export const MAX_DURATION_S = 365 * 86_400;
export const durationSchema = z.union([z.number(), z.string()]).transform((v, ctx) => {
  if (typeof v === 'number') {
    if (!Number.isInteger(v) || v < 1 || v > MAX_DURATION_S) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: `must be a whole number of seconds, from 1 to ${MAX_DURATION_S} (365d)` });
      return z.NEVER;
    }
    return v;
  }
  const m = /^(\d+)(s|m|h|d)$/.exec(v.trim());
  const n = m ? Number(m[1]) * { s: 1, m: 60, h: 3600, d: 86_400 }[m[2] as 's' | 'm' | 'h' | 'd'] : NaN;
  if (!m || !Number.isInteger(n) || n < 1 || n > MAX_DURATION_S) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: `"${v.slice(0, 40)}" is not a duration: a whole number followed by s, m, h or d (30s, 15m, 2h), from 1s to 365d` });
    return z.NEVER;
  }
  return n;
});

/** Seconds → the shortest exact way to write it (`900` → `15m`). */
export function formatDuration(seconds: number): string {
  for (const [unit, n] of [
    ['d', 86_400],
    ['h', 3600],
    ['m', 60],
  ] as const)
    if (seconds % n === 0) return `${seconds / n}${unit}`;
  return `${seconds}s`;
}

/** The schedule of a replicated pool (the reference's settings, same names and meanings). */
export const replicationScheduleSchema = z.object({
  /** Active node snapshot interval, seconds (default 15 min). A change takes effect when the running timer next fires. */
  snapshotIntervalS: z.number().int().min(1),
  /** Snapshot retention: how many of Tandem's snapshots the active node keeps (default 24). */
  retention: z.number().int().min(1).max(10_000),
  /** Passive node pull interval, seconds (default 3 min): how often the passive asks for snapshots it misses. */
  pullIntervalS: z.number().int().min(1),
  /** A transfer that moves no byte for this long is killed and retried (default 60 s). */
  stallTimeoutS: z.number().int().min(1),
});
export type ReplicationSchedule = z.infer<typeof replicationScheduleSchema>;

export const DEFAULT_REPLICATION_SCHEDULE: Readonly<ReplicationSchedule> = { snapshotIntervalS: 15 * 60, retention: 24, pullIntervalS: 3 * 60, stallTimeoutS: 60 };

/** Cluster-wide replication settings, kept in the cluster record. */
export const clusterReplicationSettingsSchema = replicationScheduleSchema.partial().extend({
  /** The TCP port of every node's replication SSH endpoint (default 2222). */
  sshPort: z.number().int().min(1).max(65535).optional(),
  /** Per node, the address its replication SSH endpoint is reached at (default: its heartbeat address). */
  sshAddresses: z.record(nodeIdSchema, ipAddressSchema).optional(),
});
export type ClusterReplicationSettings = z.infer<typeof clusterReplicationSettingsSchema>;
export const DEFAULT_SSH_PORT = 2222;

/** The effective schedule of a pool: its own overrides, then the cluster's, then the defaults. */
export function effectiveSchedule(cluster: ClusterReplicationSettings | undefined, pool: Partial<ReplicationSchedule> | undefined): ReplicationSchedule {
  const pick = <K extends keyof ReplicationSchedule>(k: K): ReplicationSchedule[K] => pool?.[k] ?? cluster?.[k] ?? DEFAULT_REPLICATION_SCHEDULE[k];
  return { snapshotIntervalS: pick('snapshotIntervalS'), retention: pick('retention'), pullIntervalS: pick('pullIntervalS'), stallTimeoutS: pick('stallTimeoutS') };
}

/** A node's replication keys (OpenSSH public keys), pinned in the cluster record when it joins. Several during a rotation. */
export const nodeSshKeysSchema = z.object({
  hostKeys: z.array(z.string().min(1)).min(1).max(4),
  clientKeys: z.array(z.string().min(1)).min(1).max(4),
});
export type NodeSshKeys = z.infer<typeof nodeSshKeysSchema>;

/** After an automatic failover of a replicated pool, sync is locked until an operator resumes it. */
export const syncLockSchema = z.object({
  at: z.string(),
  from: nodeIdSchema,
  to: nodeIdSchema,
  /** The newest snapshot the new active had applied (its data is that old at most), and when it was taken. */
  lastSnapshot: z.string().nullable(),
  lastSnapshotAt: z.string().nullable(),
});
export type SyncLock = z.infer<typeof syncLockSchema>;
export const syncLockedMessage = (pool: string) => `Failover occurred. Sync for ${pool} is locked!`;

/** What the passive pulled last. */
const transferSchema = z.object({
  kind: z.enum(['full', 'incremental']),
  bytes: z.number(),
  ms: z.number(),
  at: z.string(),
  to: z.string(),
});

/** One passive node's side of a replicated pool. */
export const replicaStateSchema = z.object({
  state: z.enum(['in-sync', 'syncing', 'bootstrapping', 'locked', 'error', 'waiting']),
  reason: z.string().nullable(),
  /** The newest snapshot both sides hold (matched by GUID). */
  newestCommon: z.object({ name: z.string(), guid: z.string(), createdAt: z.string() }).nullable(),
  /** Seconds between the newest snapshot on the active and the newest common one (0: in sync). */
  lagSeconds: z.number().nullable(),
  lagBytes: z.number().nullable(),
  lastTransfer: transferSchema.nullable(),
  /** A transfer running now: bytes so far and the estimated total. */
  progress: z.object({ bytes: z.number(), total: z.number().nullable(), dataset: z.string() }).nullable(),
  /** Failed attempts in a row (the backoff grows with it). */
  failures: z.number().int().min(0),
  nextPullAt: z.string().nullable(),
  /** When its last pull succeeded (whether or not there was anything to pull): a replica failing for longer than the passive-down limit is away, and no longer pins the active's space. */
  lastSuccessAt: z.string().nullable().optional(),
});
export type ReplicaState = z.infer<typeof replicaStateSchema>;

/** The replication state of one pool, kept by the active replication-scheduler (REPLICATION_RECORD). */
export const replicationStateSchema = z.object({
  pool: poolNameSchema,
  /** The node that serves it and takes snapshots. */
  source: nodeIdSchema.nullable(),
  newestSnapshot: z.object({ name: z.string(), guid: z.string(), createdAt: z.string() }).nullable(),
  /** When the snapshot timer next fires (it keeps the interval it was started with). */
  nextSnapshotAt: z.string().nullable(),
  replicas: z.record(nodeIdSchema, replicaStateSchema),
  /** A node whose copy diverged (it served while the lock held): its data is kept aside before it receives again. */
  keepAsideOn: z.array(nodeIdSchema),
  updatedAt: z.string(),
});
export type ReplicationState = z.infer<typeof replicationStateSchema>;

/**
 * The one command a replication SSH key may run: send one of a replicated pool's Tandem snapshots
 * (full, or incremental from `base` with every intermediate snapshot), as the exec request's text.
 */
export const replicationSendCommandSchema = z
  .object({
    v: z.literal(1),
    op: z.literal('send'),
    snapshot: snapshotNameSchema,
    base: snapshotNameSchema.nullable(),
  })
  .strict()
  .refine((c) => isTandemSnapshot(c.snapshot.split('@')[1] ?? ''), { message: 'only Tandem snapshots (tandem-YYYYMMDD-HHMMSS) are sent', path: ['snapshot'] })
  .refine((c) => c.base === null || c.base.split('@')[0] === c.snapshot.split('@')[0], { message: 'the base must be a snapshot of the same dataset', path: ['base'] });
export type ReplicationSendCommand = z.infer<typeof replicationSendCommandSchema>;
