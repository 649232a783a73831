import { Inject, Injectable, OnModuleInit } from '@nestjs/common';
import type { KV } from 'nats';
import { CLUSTER_BUCKET, ErrorCode, Events, TandemError, type ClusterRecord } from '@tandem/contracts';
import { OrderedEvents, bindKv, kvCompareAndSet, kvGet } from '@tandem/messaging';
import { SERVICE_CONTEXT, type ServiceContext } from '@tandem/service-kit';

const KEY = 'cluster';

/** The cluster record in the replicated KV bucket; every write is a compare-and-set. */
@Injectable()
export class ClusterStore implements OnModuleInit {
  private kv!: KV;

  constructor(
    @Inject(SERVICE_CONTEXT) private readonly ctx: ServiceContext,
    private readonly events: OrderedEvents,
  ) {}

  async onModuleInit(): Promise<void> {
    this.kv = await bindKv(this.ctx.nc, CLUSTER_BUCKET.bucket);
  }

  async get(): Promise<{ cluster: ClusterRecord; revision: number } | null> {
    const e = await kvGet(this.kv, KEY);
    if (!e || e.operation !== 'PUT' || e.value.length === 0) return null;
    return { cluster: JSON.parse(new TextDecoder().decode(e.value)) as ClusterRecord, revision: e.revision };
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
    const r = await kvCompareAndSet(this.kv, KEY, new TextEncoder().encode(JSON.stringify(cluster)), revision);
    if (!r.ok) {
      throw revision === 0
        ? new TandemError(ErrorCode.AlreadyExists, 'a cluster already exists', 'cluster')
        : new TandemError(ErrorCode.InTransition, 'the cluster was changed by someone else meanwhile: try again', 'cluster');
    }
    this.events.publish(Events.clusterChanged, cluster.id, { cluster: cluster as unknown as Record<string, unknown> });
    return cluster;
  }

  async destroy(revision: number, id: string): Promise<void> {
    await this.kv.delete(KEY, { previousSeq: revision });
    this.events.publish(Events.clusterChanged, id, { cluster: null });
  }
}
