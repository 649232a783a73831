import { Injectable, OnModuleInit } from '@nestjs/common';
import { haPoolStateSchema } from '@tandem/contracts';
import { LeadershipService } from '@tandem/service-kit';
import { Metrics, onScrape } from '@tandem/telemetry';
import { PoolStore } from './pool.store';

/**
 * tandem_pool_state, read from the pool records at every scrape by the active resource-manager
 * (the standbys report none, so that a sum over the cluster counts each pool once); and the
 * failover metrics made at start, so that they are there before the first failover.
 */
@Injectable()
export class PoolMetrics implements OnModuleInit {
  constructor(
    private readonly pools: PoolStore,
    private readonly leadership: LeadershipService,
  ) {}

  onModuleInit(): void {
    Metrics.failovers();
    Metrics.failoverPhase();
    onScrape(async () => {
      const gauge = Metrics.poolState();
      if (!this.leadership.isLeader) return gauge.reset();
      const pools = await this.pools.list();
      gauge.reset();
      for (const p of pools) for (const state of haPoolStateSchema.options) gauge.set({ pool: p.name, state }, p.state === state ? 1 : 0);
    });
  }
}
