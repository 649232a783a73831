import { Inject, Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { POOLS_BUCKET, healthSubject, type HaPool } from '@tandem/contracts';
import { SERVICE_CONTEXT, type ServiceContext } from '@tandem/service-kit';
import { HOST_EXECUTOR_CONFIG, type HostExecutorConfig } from './host-executor.config';
import { NetworkService } from './network.service';
import { ZfsService } from './zfs.service';

/**
 * Self-fencing. A node that has lost the cluster — its NATS server reaches no majority of the
 * NATS cluster (peers and witness) AND no peer is heard on any heartbeat channel — stops the
 * HA pools it serves at once: floating IPs down first, then shares, then a forced export. The
 * side that kept the majority takes them over only after waiting longer than this takes.
 */
@Injectable()
export class FenceKeeper implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('fence');
  private timer?: NodeJS.Timeout;
  private owned = new Map<string, HaPool>();
  private lostSince: number | null = null;
  private busy = false;
  private refreshing = false;
  readonly fenced: string[] = [];

  constructor(
    @Inject(SERVICE_CONTEXT) private readonly ctx: ServiceContext,
    @Inject(HOST_EXECUTOR_CONFIG) private readonly cfg: HostExecutorConfig,
    private readonly zfs: ZfsService,
    private readonly net: NetworkService,
  ) {}

  onModuleInit(): void {
    if (!this.cfg.fenceEnabled) return;
    this.timer = setInterval(() => void this.tick(), 250);
  }

  onApplicationShutdown(): void {
    clearInterval(this.timer);
  }

  /** The managed pools this node serves, as last read from the replicated records. */
  private async refreshOwned(): Promise<void> {
    const kv = await this.ctx.nc.jetstream().views.kv(POOLS_BUCKET.bucket);
    const next = new Map<string, HaPool>();
    for await (const k of await kv.keys('pool.*')) {
      const e = await kv.get(k);
      if (!e || e.operation !== 'PUT' || e.value.length === 0) continue;
      const p = JSON.parse(e.string()) as HaPool;
      if (p.node === this.ctx.config.nodeId && p.state !== 'inactive') next.set(p.name, p);
    }
    this.owned = next;
  }

  /**
   * Is this node on the majority side of the NATS cluster? Its server knows a JetStream meta
   * leader (a leader needs a quorum), and, when it is the leader itself, still hears a majority.
   * Route lists are not used: a route over a dead link can look alive for a long time.
   */
  private async natsMajority(): Promise<boolean> {
    try {
      const jsz = (await (await fetch(`${this.cfg.natsMonitorUrl}/jsz`, { signal: AbortSignal.timeout(1_000) })).json()) as {
        meta_cluster?: { leader?: string; cluster_size?: number; replicas?: Array<{ current: boolean; active: number }> };
      };
      const meta = jsz.meta_cluster;
      if (!meta) return true; // JetStream not clustered (a single server): nothing to lose
      if (!meta.leader) return false;
      // the leader itself: count the followers heard from lately (`active` is nanoseconds since)
      if (meta.replicas) return 2 * (meta.replicas.filter((r) => r.active < 2e9).length + 1) > (meta.cluster_size ?? 1);
      return true;
    } catch {
      return false;
    }
  }

  /** Is any peer heard on any heartbeat channel (per this node's heartbeat service)? */
  private async peerHeard(): Promise<boolean> {
    try {
      const msg = await this.ctx.nc.request(healthSubject(this.ctx.config.nodeId, 'heartbeat'), new Uint8Array(0), { timeout: 500 });
      const view = JSON.parse(new TextDecoder().decode(msg.data)) as { peers?: Array<{ state: string }> };
      return (view.peers ?? []).some((p) => p.state === 'up' || p.state === 'suspect');
    } catch {
      return false;
    }
  }

  private async tick(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      const majority = await this.natsMajority();
      if (majority) {
        this.lostSince = null;
        // never let a stalled JetStream read hold up the fence check: refresh on the side
        if (!this.refreshing) {
          this.refreshing = true;
          void Promise.race([this.refreshOwned(), new Promise((_, reject) => setTimeout(() => reject(new Error('timeout')), 2_000))])
            .catch(() => undefined)
            .finally(() => (this.refreshing = false));
        }
        return;
      }
      if (this.owned.size === 0) return;
      if (await this.peerHeard()) {
        this.lostSince = null;
        return;
      }
      const now = performance.now();
      this.lostSince ??= now;
      if (now - this.lostSince < this.cfg.fenceGraceMs) return;
      await this.fence();
    } finally {
      this.busy = false;
    }
  }

  /** Stop every managed pool this node serves: IPs, shares, forced export. */
  async fence(): Promise<void> {
    const pools = [...this.owned.values()];
    this.owned = new Map();
    for (const pool of pools) {
      this.logger.warn(`lost the cluster (no NATS majority, no peer heard): fencing pool ${pool.name}`);
      for (const v of pool.vips) await this.net.remove({ interface: v.interface, address: v.address, prefix: v.prefix }).catch((err) => this.logger.error(`fence ${pool.name}: ${v.address} down failed: ${(err as Error).message}`));
      await this.zfs.exportPool({ pool: pool.name, force: true }).catch((err) => this.logger.error(`fence ${pool.name}: forced export failed: ${(err as Error).message}`));
      this.fenced.push(pool.name);
    }
  }
}
