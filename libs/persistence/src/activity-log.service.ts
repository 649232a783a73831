import type { DataSource } from 'typeorm';
import { ACTIVITY_TARGETS } from '@tandem/contracts';
import { ActivityLogEntity } from './entities/activity-log.entity';

export interface ActivityRecord {
  actor: string;
  action: string;
  target: string;
  result: 'started' | 'succeeded' | 'failed';
  error?: string | null;
  detail?: string | null;
  traceId?: string | null;
  nodeId?: string | null;
  eventId?: string | null;
  /** When it happened (defaults to now). */
  at?: Date;
}

export interface ActivityPageQuery {
  limit: number;
  before?: string;
  pool?: string;
  node?: string;
  result?: 'started' | 'succeeded' | 'failed';
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
      .values({ ...entry, error: entry.error ?? null, detail: entry.detail ?? null, traceId: entry.traceId ?? null, nodeId: entry.nodeId ?? null, eventId: entry.eventId ?? null })
      .orIgnore()
      .execute();
  }

  async recent(limit = 100): Promise<ActivityLogEntity[]> {
    return (await this.page({ limit }))?.entries ?? [];
  }

  /**
   * A page of the log, newest first: the newest entries, or those before the entry `before`
   * names (its event id, the same on every node, or its id here); only those about a pool or a
   * node (the contract's ACTIVITY_TARGETS: the actions whose target is one), or of one result. `next`: the cursor
   * of the page before this one, when there may be one. null: `before` names no entry here.
   */
  async page(q: ActivityPageQuery): Promise<{ entries: ActivityLogEntity[]; next?: string } | null> {
    const limit = Math.min(Math.max(q.limit, 1), 1000);
    const qb = this.ds.getRepository(ActivityLogEntity).createQueryBuilder('a').orderBy('a.id', 'DESC').take(limit);
    if (q.before !== undefined) {
      let id: string | undefined = q.before;
      if (!/^\d{1,18}$/.test(q.before)) {
        const row = await this.ds.getRepository(ActivityLogEntity).findOne({ where: { eventId: q.before }, select: { id: true } });
        if (!row) return null;
        id = row.id;
      }
      qb.andWhere('a.id < :before', { before: id });
    }
    for (const [key, about] of [
      ['pool', q.pool],
      ['node', q.node],
    ] as const) {
      if (about === undefined) continue;
      const t = ACTIVITY_TARGETS[key];
      const kinds = [...t.prefixes.map((_, i) => `a.action LIKE :${key}Prefix${i}`), `a.action IN (:...${key}Actions)`];
      const params: Record<string, unknown> = { [key]: about, [`${key}Actions`]: t.actions };
      t.prefixes.forEach((p, i) => (params[`${key}Prefix${i}`] = `${p.replace(/[\\%_]/g, '\\$&')}%`));
      qb.andWhere(`a.target = :${key} AND (${kinds.join(' OR ')})`, params);
    }
    if (q.result !== undefined) qb.andWhere('a.result = :result', { result: q.result });
    const entries = await qb.getMany();
    const last = entries[entries.length - 1];
    return entries.length === limit && last ? { entries, next: last.eventId ?? last.id } : { entries };
  }
}
