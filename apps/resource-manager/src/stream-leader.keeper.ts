import { Inject, Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { REPLICATED_STREAMS } from '@tandem/contracts';
import { LeadershipService, SERVICE_CONTEXT, type ServiceContext } from '@tandem/service-kit';
import { ClusterStore } from './cluster.store';

/**
 * Keeps the Raft leadership of Tandem's replicated streams (the pool and cluster records, the
 * leases, the events) off the storage nodes, on the witness: when a storage node that leads a
 * stream dies, writes to it stall until a new leader is elected (about 5 s) — and the failover
 * writes the pool record. The active resource-manager checks every 3 s and asks a stream led by
 * a storage node to step down while the witness holds a current replica (NATS 2.9 cannot name
 * the next leader, so it may take a few rounds).
 */
@Injectable()
export class StreamLeaderKeeper implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('stream-leaders');
  private timer?: NodeJS.Timeout;
  private busy = false;

  constructor(
    @Inject(SERVICE_CONTEXT) private readonly ctx: ServiceContext,
    private readonly leadership: LeadershipService,
    private readonly cluster: ClusterStore,
  ) {}

  onModuleInit(): void {
    this.timer = setInterval(() => void this.tick(), 3_000);
  }

  onApplicationShutdown(): void {
    clearInterval(this.timer);
  }

  private async tick(): Promise<void> {
    if (this.busy || !this.leadership.isLeader) return;
    this.busy = true;
    try {
      const c = await this.cluster.get();
      if (!c) return;
      const storage = new Set(c.cluster.nodes.map((n) => n.id));
      const jsm = await this.ctx.nc.jetstreamManager({ timeout: 2_000 });
      for (const stream of REPLICATED_STREAMS) {
        const info = await jsm.streams.info(stream).catch(() => null);
        const leader = info?.cluster?.leader;
        if (!leader || !storage.has(leader)) continue;
        const witness = (info.cluster?.replicas ?? []).some((r) => !storage.has(r.name) && r.current);
        if (!witness) continue;
        await this.ctx.nc.request(`$JS.API.STREAM.LEADER.STEPDOWN.${stream}`, new Uint8Array(0), { timeout: 2_000 }).catch(() => undefined);
        this.logger.log(`stream ${stream} was led by storage node ${leader}: asked it to step down`);
      }
    } catch (err) {
      this.logger.debug(`stream leader check: ${(err as Error).message}`);
    } finally {
      this.busy = false;
    }
  }
}
