import { ErrorCode, SNAPSHOT_SCHEDULES_PER_POOL, TandemError, scheduledSnapshotTime, type SnapshotSchedule } from '@tandem/contracts';

/**
 * Snapshot schedules of an HA pool, pure. Nothing is remembered between runs but the snapshots
 * themselves: a schedule is due when its newest snapshot on the pool (by the time in its name) is
 * `everyS` old or more, or when it has none — so it follows the pool to whichever node serves it,
 * and a node that takes over after a failover carries on from the snapshots the pool holds.
 *
 *  1. Due: no snapshot of the schedule yet, or the newest one is at least `everyS` old.
 *  2. Kept: the newest `keep` snapshots of the schedule, on each dataset; older ones are destroyed
 *     — except held ones (a replication base, an operator's `zfs hold`), which are left alone.
 *  3. Only snapshots named by the schedule (`tandem-<schedule>-<yyyymmdd-hhmmss>`) are ever touched.
 */
export interface ScheduleSnapshot {
  /** Short name (after the `@`). */
  name: string;
  /** Holds on it. */
  userrefs: number;
}

/** When the schedule next takes a snapshot (ms since the epoch): now or earlier means due. */
export function nextScheduledAt(schedule: SnapshotSchedule, rootSnapshots: readonly ScheduleSnapshot[], now: number): number {
  let newest: number | null = null;
  for (const s of rootSnapshots) {
    const t = scheduledSnapshotTime(schedule.name, s.name);
    if (t !== null && (newest === null || t > newest)) newest = t;
  }
  // a snapshot stamped in the future (a clock set back) does not stop the schedule for long
  if (newest !== null && newest > now) newest = now;
  return newest === null ? now : newest + schedule.everyS * 1000;
}

export function scheduleDue(schedule: SnapshotSchedule, rootSnapshots: readonly ScheduleSnapshot[], now: number): boolean {
  return nextScheduledAt(schedule, rootSnapshots, now) <= now;
}

/** The snapshots of one dataset to destroy for the schedule's `keep`: its oldest beyond the newest `keep`, held ones never. */
export function scheduleExpiry<S extends ScheduleSnapshot>(schedule: SnapshotSchedule, datasetSnapshots: readonly S[]): S[] {
  const ours = datasetSnapshots
    .map((s) => ({ s, t: scheduledSnapshotTime(schedule.name, s.name) }))
    .filter((x): x is { s: S; t: number } => x.t !== null)
    .sort((a, b) => a.t - b.t || (a.s.name < b.s.name ? -1 : 1));
  return ours
    .slice(0, Math.max(0, ours.length - schedule.keep))
    .map((x) => x.s)
    .filter((s) => s.userrefs === 0);
}

/** The pool's schedules with `schedule` added, or replacing the one of its name. */
export function withSchedule(schedules: readonly SnapshotSchedule[], schedule: SnapshotSchedule, pool: string): SnapshotSchedule[] {
  const others = schedules.filter((s) => s.name !== schedule.name);
  if (others.length >= SNAPSHOT_SCHEDULES_PER_POOL)
    throw new TandemError(ErrorCode.InvalidArgument, `pool ${pool} has ${others.length} snapshot schedules already, the most a pool may have: remove one first`, 'name');
  return [...others, schedule].sort((a, b) => a.name.localeCompare(b.name));
}

/** The pool's schedules without the one named `name` (which must be there). */
export function withoutSchedule(schedules: readonly SnapshotSchedule[], name: string, pool: string): SnapshotSchedule[] {
  if (!schedules.some((s) => s.name === name))
    throw new TandemError(ErrorCode.NotFound, `pool ${pool} has no snapshot schedule ${name} (it has: ${schedules.map((s) => s.name).join(', ') || 'none'})`, 'name');
  return schedules.filter((s) => s.name !== name);
}
