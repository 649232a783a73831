import type { DataSource } from 'typeorm';
import { ActivityLogEntity } from './entities/activity-log.entity';

export interface ActivityRecord {
  actor: string;
  action: string;
  target: string;
  result: 'started' | 'succeeded' | 'failed';
  error?: string | null;
  traceId?: string | null;
  nodeId?: string | null;
  eventId?: string | null;
  /** When it happened (defaults to now). */
  at?: Date;
}

/** The activity log: every action, who did it, how it ended, and its trace id. */
export class ActivityLog {
  constructor(private readonly ds: DataSource) {}

  /** Record an entry; an entry with an event id already recorded is skipped (idempotent replay). */
  async record(entry: ActivityRecord): Promise<void> {
    await this.ds
      .createQueryBuilder()
      .insert()
      .into(ActivityLogEntity)
      .values({ ...entry, error: entry.error ?? null, traceId: entry.traceId ?? null, nodeId: entry.nodeId ?? null, eventId: entry.eventId ?? null })
      .orIgnore()
      .execute();
  }

  async recent(limit = 100): Promise<ActivityLogEntity[]> {
    return this.ds.getRepository(ActivityLogEntity).find({ order: { id: 'DESC' }, take: Math.min(Math.max(limit, 1), 1000) });
  }
}
