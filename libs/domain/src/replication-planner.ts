import { KEPT_DATASET, isTandemSnapshot } from '@tandem/contracts';

/**
 * Shared-nothing replication, pure: what a passive pulls, what each side expires, which snapshot
 * is held as the next incremental base. Snapshots are matched by GUID, never by name alone (after
 * a failover the same names exist on both sides with other contents); only Tandem's own
 * snapshots (`tandem-YYYYMMDD-HHMMSS`) are ever sent or expired.
 *
 * The rules of one dataset's pull, in order:
 *  1. The active has no Tandem snapshot yet: nothing to pull (wait for the first one).
 *  2. The replica does not have the dataset: a full send of the active's newest snapshot.
 *  3. No snapshot is common (by GUID): a full resync — the replica's dataset is kept aside
 *     first (never destroyed), then replaced.
 *  4. The replica holds Tandem snapshots newer than the newest common one that the active does
 *     not have (it served while the other side was away): it diverged — kept aside, rolled back
 *     to the common snapshot, then the incremental.
 *  5. The newest common is the active's newest: in sync, nothing to pull.
 *  6. Otherwise an incremental with every intermediate snapshot (`zfs send -I common newest`).
 */

export interface SnapshotRef {
  /** Short name (after the @). */
  name: string;
  guid: string;
  /** ISO time the snapshot was taken. */
  createdAt: string;
  /** Holds on it (a held snapshot cannot be destroyed). */
  userrefs: number;
  referencedBytes?: number;
}

export type DatasetPull =
  | { action: 'wait'; why: string }
  | { action: 'none'; common: SnapshotRef }
  | { action: 'full'; to: SnapshotRef; keepAside: boolean; why: string }
  | { action: 'incremental'; base: SnapshotRef; to: SnapshotRef; rollbackTo: SnapshotRef | null; keepAside: boolean };

const byAge = (a: SnapshotRef, b: SnapshotRef) => a.createdAt.localeCompare(b.createdAt) || a.name.localeCompare(b.name);
const tandem = (list: readonly SnapshotRef[]) => list.filter((s) => isTandemSnapshot(s.name)).sort(byAge);

/** The newest snapshot of `replica` that `source` also has, by GUID (any snapshot, not only Tandem's: a base is a base). */
export function newestCommon(source: readonly SnapshotRef[], replica: readonly SnapshotRef[]): SnapshotRef | null {
  const guids = new Set(source.map((s) => s.guid));
  return (
    [...replica]
      .sort(byAge)
      .reverse()
      .find((s) => guids.has(s.guid)) ?? null
  );
}

/** `replica` null: the dataset does not exist on the passive. */
export function planDatasetPull(source: readonly SnapshotRef[], replica: readonly SnapshotRef[] | null): DatasetPull {
  const ours = tandem(source);
  const newest = ours.at(-1);
  if (!newest) return { action: 'wait', why: 'the active has taken no snapshot yet' };
  if (replica === null) return { action: 'full', to: newest, keepAside: false, why: 'the dataset is new on the passive' };
  const common = newestCommon(source, replica);
  if (!common) return { action: 'full', to: newest, keepAside: true, why: replica.length ? 'no snapshot in common with the active' : 'the passive has no snapshot of it yet' };
  const sourceGuids = new Set(source.map((s) => s.guid));
  const diverged = tandem(replica).some((s) => !sourceGuids.has(s.guid) && s.createdAt > common.createdAt);
  if (!diverged && common.guid === newest.guid) return { action: 'none', common };
  // the common snapshot is the active's newest but the replica moved on: roll back only
  const to = common.guid === newest.guid ? common : newest;
  return { action: 'incremental', base: common, to, rollbackTo: diverged ? common : null, keepAside: diverged };
}

/**
 * The active's snapshots to destroy for `retention`: the oldest Tandem snapshots beyond the newest
 * `retention`, except those held (a replica's next incremental base) — which are reported kept.
 */
export function retentionExpiry(source: readonly SnapshotRef[], retention: number): { destroy: SnapshotRef[]; keptForReplicas: SnapshotRef[] } {
  const ours = tandem(source);
  const beyond = ours.slice(0, Math.max(0, ours.length - retention));
  return { destroy: beyond.filter((s) => s.userrefs === 0), keptForReplicas: beyond.filter((s) => s.userrefs > 0) };
}

/**
 * The replica's snapshots to destroy after a successful pull: its Tandem snapshots the active no
 * longer has (by GUID), never the newest common one (the next base) nor a held one.
 */
export function replicaExpiry(source: readonly SnapshotRef[], replica: readonly SnapshotRef[]): SnapshotRef[] {
  const common = newestCommon(source, replica);
  const sourceGuids = new Set(source.map((s) => s.guid));
  return tandem(replica).filter((s) => !sourceGuids.has(s.guid) && s.guid !== common?.guid && s.userrefs === 0 && (!common || s.createdAt < common.createdAt));
}

/** The datasets a replicated pool replicates: every filesystem but Tandem's kept-aside copies, parents first. */
export function replicatedDatasets(pool: string, filesystems: readonly string[]): string[] {
  const kept = `${pool}/${KEPT_DATASET}`;
  return filesystems.filter((d) => (d === pool || d.startsWith(`${pool}/`)) && d !== kept && !d.startsWith(`${kept}/`)).sort((a, b) => a.split('/').length - b.split('/').length || a.localeCompare(b));
}

/** Seconds the replica trails the active: from the newest common snapshot to the active's newest (0 in sync, null when nothing is common). */
export function lagSeconds(source: readonly SnapshotRef[], replica: readonly SnapshotRef[]): number | null {
  const newest = tandem(source).at(-1);
  const common = newestCommon(source, replica);
  if (!newest || !common) return null;
  return Math.max(0, Math.round((Date.parse(newest.createdAt) - Date.parse(common.createdAt)) / 1000));
}

/** After a failure: wait 5 s, 10 s, 20 s … but never longer than the pull interval. */
export function retryDelayMs(failures: number, pullIntervalS: number): number {
  return Math.min(pullIntervalS * 1000, 5_000 * 2 ** Math.max(0, failures - 1));
}

/** The rollback window (interval × retention) and how long a passive may be away before nothing is common any more. */
export function replicationWindows(s: { snapshotIntervalS: number; retention: number }): { rollbackWindowS: number; passiveDownLimitS: number } {
  const rollbackWindowS = s.snapshotIntervalS * s.retention;
  // a passive's base is held on the active while it is away, but not for ever: past the rollback
  // window its hold is released (space is not pinned without bound) and the base expires with the rest
  return { rollbackWindowS, passiveDownLimitS: rollbackWindowS };
}
