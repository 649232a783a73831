import { Inject, Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { CLUSTER_RECORD, CLUSTER_RECORD_ID, POOL_RECORD, type ClusterRecord, type HaPool } from '@tandem/contracts';
import { KvRecordStore, followRecords } from '@tandem/messaging';
import { SERVICE_CONTEXT, type ServiceContext } from '@tandem/service-kit';

/**
 * What replication needs of the replicated records, followed live (one watch each, never a read
 * per login): the cluster record (members, their pinned keys, the replication SSH settings) and
 * the pool records (which pools are replicated). Until a watch has replayed every current value,
 * a question is answered by a read of the record itself instead.
 */
@Injectable()
export class ReplicationRecords implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('replication-records');
  private clusterRecord: ClusterRecord | null = null;
  private clusterCaughtUp = false;
  private readonly pools = new Map<string, HaPool>();
  private poolsCaughtUp = false;
  private stopped = false;
  private readonly listeners: Array<(cluster: ClusterRecord | null) => void> = [];
  private readonly clusterStore: KvRecordStore<ClusterRecord>;
  private readonly poolStore: KvRecordStore<HaPool>;

  constructor(@Inject(SERVICE_CONTEXT) private readonly ctx: Pick<ServiceContext, 'nc'>) {
    this.clusterStore = new KvRecordStore(ctx.nc, CLUSTER_RECORD);
    this.poolStore = new KvRecordStore(ctx.nc, POOL_RECORD);
  }

  onModuleInit(): void {
    let sawCluster = false;
    void followRecords(
      this.ctx.nc,
      CLUSTER_RECORD,
      (_id, rec) => {
        sawCluster = true;
        this.setCluster(rec);
      },
      {
        stopped: () => this.stopped,
        retryMs: 2_000,
        reopenEveryMs: 60_000,
        onCaughtUp: () => {
          this.clusterCaughtUp = true;
          // no record at all once everything was replayed: there is no cluster (yet)
          if (!sawCluster) this.setCluster(null);
        },
        onMalformed: (_id, why) => this.logger.warn(`${why}: the last good cluster record stays in force`),
        onError: (err) => {
          if (!this.stopped) this.logger.debug(`cluster record watch: ${err.message}; again in 2 s`);
        },
      },
    );
    void followRecords(
      this.ctx.nc,
      POOL_RECORD,
      (name, rec) => {
        if (rec) this.pools.set(name, rec);
        else this.pools.delete(name);
      },
      {
        stopped: () => this.stopped,
        retryMs: 2_000,
        reopenEveryMs: 60_000,
        onCaughtUp: () => (this.poolsCaughtUp = true),
        onError: (err) => {
          if (!this.stopped) this.logger.debug(`pool records watch: ${err.message}; again in 2 s`);
        },
      },
    );
  }

  onApplicationShutdown(): void {
    this.stopped = true;
  }

  /** The cluster record as last seen (null: none, or not read yet). */
  cluster(): ClusterRecord | null {
    return this.clusterRecord;
  }

  /** Called on every change of the cluster record. */
  onClusterChange(listener: (cluster: ClusterRecord | null) => void): void {
    this.listeners.push(listener);
  }

  /** The cluster record read now (from the stream's leader): for a decision that must not act on a copy a moment old (which host key is pinned). */
  async freshCluster(): Promise<ClusterRecord | null> {
    const r = await this.clusterStore.get(CLUSTER_RECORD_ID);
    return r?.value ?? null;
  }

  /** The cluster record as last seen, or read now when the watch has not caught up yet (at start) or `refresh` asks for it. */
  async clusterNow(refresh = false): Promise<ClusterRecord | null> {
    if (this.clusterCaughtUp && !refresh) return this.clusterRecord;
    return this.freshCluster();
  }

  /** A pool's mode by its record: null when the cluster has no record of it. */
  async poolMode(pool: string): Promise<'shared' | 'replicated' | null> {
    const rec = this.poolsCaughtUp ? this.pools.get(pool) : (await this.poolStore.get(pool))?.value;
    return rec ? (rec.mode ?? 'shared') : null;
  }

  /** A pool's record as last seen (undefined: the watch has not replayed every record yet). */
  poolSeen(pool: string): HaPool | null | undefined {
    return this.poolsCaughtUp ? (this.pools.get(pool) ?? null) : undefined;
  }

  /** A pool's record read now from the stream's leader (null: none). */
  async freshPool(pool: string): Promise<HaPool | null> {
    return (await this.poolStore.get(pool))?.value ?? null;
  }

  private setCluster(rec: ClusterRecord | null): void {
    this.clusterRecord = rec;
    for (const l of this.listeners) {
      try {
        l(rec);
      } catch (err) {
        this.logger.error(`cluster record listener failed: ${(err as Error).message}`);
      }
    }
  }
}
