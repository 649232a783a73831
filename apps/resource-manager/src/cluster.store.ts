import { Inject, Injectable } from '@nestjs/common';
import { CLUSTER_RECORD, CLUSTER_RECORD_ID, ErrorCode, Events, TandemError, type ClusterRecord } from '@tandem/contracts';
import { KvRecordStore, OrderedEvents } from '@tandem/messaging';
import { SERVICE_CONTEXT, type ServiceContext } from '@tandem/service-kit';

/** The cluster record in the replicated KV bucket; every write is a compare-and-set, every change an event. */
@Injectable()
export class ClusterStore {
  private readonly records: KvRecordStore<ClusterRecord>;

  constructor(
    @Inject(SERVICE_CONTEXT) ctx: ServiceContext,
    private readonly events: OrderedEvents,
  ) {
    this.records = new KvRecordStore(ctx.nc, CLUSTER_RECORD);
  }

  async get(): Promise<{ cluster: ClusterRecord; revision: number } | null> {
    const r = await this.records.get(CLUSTER_RECORD_ID);
    return r ? { cluster: r.value, revision: r.revision } : null;
  }

  async require(): Promise<{ cluster: ClusterRecord; revision: number }> {
    const c = await this.get();
    if (!c) throw new TandemError(ErrorCode.NotFound, 'there is no cluster yet: create one first (tandem cluster create --heartbeat-interface IF)', 'cluster');
    return c;
  }

  /** Online members: the nodes pools may run on. */
  async onlineNodes(): Promise<string[]> {
    const { cluster } = await this.require();
    return cluster.nodes.filter((n) => n.adminState === 'online').map((n) => n.id);
  }

  async put(cluster: ClusterRecord, revision: number): Promise<ClusterRecord> {
    const r = await this.records.put(CLUSTER_RECORD_ID, cluster, revision);
    if (!r.ok) {
      throw revision === 0
        ? new TandemError(ErrorCode.AlreadyExists, 'a cluster already exists', 'cluster')
        : new TandemError(ErrorCode.InTransition, 'the cluster was changed by someone else meanwhile: try again', 'cluster');
    }
    this.events.publish(Events.clusterChanged, cluster.id, { cluster });
    return cluster;
  }

  async destroy(revision: number, id: string): Promise<void> {
    await this.records.delete(CLUSTER_RECORD_ID, revision);
    this.events.publish(Events.clusterChanged, id, { cluster: null });
  }
}
