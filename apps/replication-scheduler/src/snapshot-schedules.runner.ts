import { Inject, Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { Events, POOL_RECORD, scheduledSnapshotName, type HaPool, type SnapshotSchedule } from '@tandem/contracts';
import { nextScheduledAt, scheduleDue, scheduleExpiry } from '@tandem/domain';
import { HostClient, KvRecordMirror, KvRecordStore, OrderedEvents } from '@tandem/messaging';
import { ReplicationSync } from '@tandem/replication';
import { LeadershipService, SERVICE_CONTEXT, type ServiceContext } from '@tandem/service-kit';
import { inSpan } from '@tandem/telemetry';

/** After a run that failed (the node did not answer, the pool is busy), the next try. */
const RETRY_MS = 10_000;

/**
 * The snapshot schedules of every HA pool (shared-storage and replicated), run by the one active
 * replication-scheduler of the cluster — the one place schedules run. Each is carried out by the
 * host-executor of the node serving the pool now, decided on the pool record as it is in KV:
 * the schedule's snapshot when it is due (libs/domain snapshot-schedule.ts: from the pool's own
 * snapshots, so nothing is lost with a move, a failover or a new active scheduler), then its
 * oldest beyond `keep` destroyed on each dataset. Nothing runs on a node that does not serve it.
 */
@Injectable()
export class SnapshotScheduleRunner implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('snapshot-schedules');
  private readonly pools: KvRecordMirror<HaPool>;
  private readonly poolRecords: KvRecordStore<HaPool>;
  private readonly sync: ReplicationSync;
  /** `<pool>@<node>` → when to look again (ms). */
  private readonly nextCheck = new Map<string, number>();
  private readonly running = new Set<string>();
  private timer?: NodeJS.Timeout;

  constructor(
    @Inject(SERVICE_CONTEXT) ctx: ServiceContext,
    private readonly leadership: LeadershipService,
    private readonly host: HostClient,
    private readonly events: OrderedEvents,
  ) {
    this.pools = new KvRecordMirror(ctx.nc, POOL_RECORD, { reopenEveryMs: 30_000 });
    this.poolRecords = new KvRecordStore(ctx.nc, POOL_RECORD);
    this.sync = new ReplicationSync(host);
  }

  onModuleInit(): void {
    this.pools.start();
    this.timer = setInterval(() => this.tick(), 1_000);
  }

  onApplicationShutdown(): void {
    clearInterval(this.timer);
    this.pools.stop();
  }

  private tick(): void {
    if (!this.leadership.isLeader) {
      // a scheduler that becomes active again looks at every pool afresh
      this.nextCheck.clear();
      return;
    }
    const now = Date.now();
    for (const pool of this.pools.values()) {
      if (!pool.snapshotSchedules?.length || pool.state !== 'serving' || !pool.node) continue;
      const key = `${pool.name}@${pool.node}`;
      if (this.running.has(pool.name) || (this.nextCheck.get(key) ?? 0) > now) continue;
      this.running.add(pool.name);
      void this.run(pool.name)
        .then((next) => this.nextCheck.set(key, next))
        .catch((err) => {
          this.logger.warn(`pool ${pool.name}: snapshot schedules on ${pool.node}: ${(err as Error).message}; again in ${RETRY_MS / 1000} s`);
          this.nextCheck.set(key, Date.now() + RETRY_MS);
        })
        .finally(() => this.running.delete(pool.name));
    }
  }

  /** One look at a pool's schedules on its serving node: what is due is taken and pruned; when to look again. */
  private async run(name: string): Promise<number> {
    // the record as it is now, not the mirror's (a move may have just ended)
    const pool = (await this.poolRecords.get(name))?.value;
    if (!pool || pool.state !== 'serving' || !pool.node || !pool.snapshotSchedules?.length) return Date.now() + RETRY_MS;
    const node = pool.node;
    let snaps = await this.sync.snapshots(node, pool.name);
    for (const schedule of pool.snapshotSchedules) {
      if (!scheduleDue(schedule, snaps.get(pool.name) ?? [], Date.now())) continue;
      await this.take(pool.name, node, schedule);
      snaps = await this.sync.snapshots(node, pool.name);
    }
    const now = Date.now();
    return Math.min(...pool.snapshotSchedules.map((s) => nextScheduledAt(s, snaps.get(pool.name) ?? [], now)));
  }

  private async take(pool: string, node: string, schedule: SnapshotSchedule): Promise<void> {
    await inSpan('scheduled snapshot', { 'tandem.pool': pool, 'tandem.node': node, 'tandem.schedule': schedule.name }, async () => {
      const snapshot = scheduledSnapshotName(schedule.name, new Date());
      await this.host.call(node, 'snapshot.create', { dataset: pool, name: snapshot, recursive: true }, 60_000);
      const expired = new Set<string>();
      for (const [dataset, list] of await this.sync.snapshots(node, pool)) {
        for (const s of scheduleExpiry(schedule, list)) {
          await this.host.call(node, 'snapshot.destroy', { snapshot: `${dataset}@${s.name}` }, 60_000);
          expired.add(s.name);
        }
      }
      const gone = [...expired].sort();
      this.logger.log(`pool ${pool}: ${schedule.name} snapshot ${snapshot} on ${node}${gone.length ? `, destroyed ${gone.join(', ')}` : ''}`);
      this.events.publish(Events.poolScheduledSnapshot, pool, { node, schedule: schedule.name, snapshot, expired: gone });
    });
  }
}
