import { z } from 'zod';
import { MAX_DURATION_S, durationSchema } from './replication';

/**
 * Snapshot schedules of an HA pool (shared-storage or replicated): every `everyS` seconds a
 * recursive snapshot of the pool, the newest `keep` of each schedule kept. Stored in the pool
 * record, so they follow the pool; carried out on whichever node serves it. Version 1.
 *
 * Names tell the schedule and the time: `tandem-<schedule>-<UTC yyyymmdd-hhmmss>`, e.g.
 * `tandem-hourly-20261205-010000` — never `tandem-<yyyymmdd-hhmmss>`, which are replication's.
 */
/** The shortest interval a schedule may have (snapshots that frequent suit demos and tests; hourly or daily suit most pools). */
export const SNAPSHOT_SCHEDULE_MIN_INTERVAL_S = 10;
export const SNAPSHOT_SCHEDULE_MAX_KEEP = 1000;
export const SNAPSHOT_SCHEDULES_PER_POOL = 16;

export const scheduleNameSchema = z
  .string()
  .regex(/^[a-z][a-z0-9]*(-[a-z0-9]+)*$/, 'must start with a letter and hold only lower-case letters, digits and single hyphens inside')
  .max(32, 'must be at most 32 characters');

export const snapshotScheduleSchema = z
  .object({
    name: scheduleNameSchema,
    /** Seconds between two snapshots. */
    everyS: z.number().int().min(SNAPSHOT_SCHEDULE_MIN_INTERVAL_S).max(MAX_DURATION_S),
    /** How many of this schedule's snapshots are kept (the oldest beyond it are destroyed). */
    keep: z.number().int().min(1).max(SNAPSHOT_SCHEDULE_MAX_KEEP),
  })
  .strict();
export type SnapshotSchedule = z.infer<typeof snapshotScheduleSchema>;

/** `every` as given by an operator (`15m`, `2h`, `1d`, or seconds), at least the minimum. */
export const scheduleIntervalSchema = durationSchema.refine((s) => s >= SNAPSHOT_SCHEDULE_MIN_INTERVAL_S, `must be at least ${SNAPSHOT_SCHEDULE_MIN_INTERVAL_S}s`);

const STAMP = /^(\d{4})(\d{2})(\d{2})-(\d{2})(\d{2})(\d{2})$/;

/** The snapshot a schedule takes at `at`. */
export function scheduledSnapshotName(schedule: string, at: Date): string {
  const iso = at.toISOString();
  return `tandem-${scheduleNameSchema.parse(schedule)}-${iso.slice(0, 10).replace(/-/g, '')}-${iso.slice(11, 19).replace(/:/g, '')}`;
}

/** The time a snapshot of `schedule` was taken (from its name), or null when the name is not one of that schedule's. */
export function scheduledSnapshotTime(schedule: string, shortName: string): number | null {
  const prefix = `tandem-${schedule}-`;
  if (!shortName.startsWith(prefix)) return null;
  const m = STAMP.exec(shortName.slice(prefix.length));
  if (!m) return null;
  const t = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]));
  return Number.isNaN(t) ? null : t;
}
