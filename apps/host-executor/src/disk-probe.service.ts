import { Inject, Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { HOST_EXECUTOR_CONFIG, type HostExecutorConfig } from './host-executor.config';
import { HeldPools } from './fencing/held-pools.service';
import { ZfsService } from './zfs.service';

/**
 * Writes to the disks of every managed pool this node runs, every few seconds. ZFS notices
 * dead disks only when it does I/O to them; a pool no client touched would otherwise look
 * healthy until the next write. A probe that fails makes ZFS suspend the pool, which the
 * health this node reports then says (SUSPENDED) and the failover acts on. The probe itself
 * decides nothing: a slow probe on a busy machine is not a fault.
 */
@Injectable()
export class DiskProbeService implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('disk-probe');
  private timer?: NodeJS.Timeout;
  /** Pools with a probe still running (a pool whose disks hang keeps its probe waiting). */
  private readonly running = new Set<string>();

  constructor(
    @Inject(HOST_EXECUTOR_CONFIG) private readonly cfg: HostExecutorConfig,
    private readonly zfs: ZfsService,
    private readonly held: HeldPools,
  ) {}

  onModuleInit(): void {
    this.timer = setInterval(() => this.tick(), this.cfg.diskProbeIntervalMs);
    this.timer.unref();
  }

  onApplicationShutdown(): void {
    clearInterval(this.timer);
  }

  private tick(): void {
    for (const pool of this.held.names()) {
      if (this.running.has(pool)) continue;
      this.running.add(pool);
      void this.zfs
        .probePool(pool, Math.max(5_000, this.cfg.diskProbeIntervalMs))
        .catch((err) => {
          if (!/no such pool|dataset does not exist/i.test((err as Error).message)) this.logger.warn(`pool ${pool}: disk probe: ${(err as Error).message}`);
        })
        .finally(() => this.running.delete(pool));
    }
  }
}
