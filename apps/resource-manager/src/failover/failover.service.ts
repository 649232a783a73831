import { Inject, Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { DEFAULT_FAILOVER_SETTINGS, FailoverDecider } from '@tandem/domain';
import { RESOURCE_MANAGER_CONFIG, type ResourceManagerConfig } from '../resource-manager.config';
import { ClusterViewObserver } from './cluster-view.observer';
import { FailoverExecutor } from './failover.executor';
import { FailoverStatusBoard } from './failover-status.board';

/**
 * Automatic failover, every 250 ms, in three rooms: observe (ClusterViewObserver: one immutable
 * snapshot of the cluster), decide (FailoverDecider in libs/domain: pure, the rules in order),
 * act (FailoverExecutor: takeovers and give-ups, each recorded and traced). Runs on every node's
 * resource-manager, not only the active one: the node that would receive a pool takes it over
 * itself (see FailoverDecider).
 */
@Injectable()
export class FailoverService implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('failover');
  private readonly decider: FailoverDecider;
  private timer?: NodeJS.Timeout;
  private busy = false;

  constructor(
    @Inject(RESOURCE_MANAGER_CONFIG) cfg: ResourceManagerConfig,
    @Inject(ClusterViewObserver) private readonly observer: Pick<ClusterViewObserver, 'observe' | 'withFreshPools'>,
    @Inject(FailoverExecutor) private readonly executor: Pick<FailoverExecutor, 'carryOut'>,
    @Inject(FailoverStatusBoard) private readonly board: Pick<FailoverStatusBoard, 'update'>,
  ) {
    this.decider = new FailoverDecider({ ...DEFAULT_FAILOVER_SETTINGS, timings: cfg.failover.timings, holdDownMs: cfg.holdDownMs });
  }

  onModuleInit(): void {
    this.timer = setInterval(() => void this.tick(), 100);
  }

  onApplicationShutdown(): void {
    clearInterval(this.timer);
  }

  /** One round (exposed for tests). */
  async tick(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      const snapshot = await this.observer.observe();
      const a = this.decider.assess(snapshot);
      if (!a) return;
      if (a.kind === 'nothing') {
        this.board.update(a.status, a.declinedPools);
        return;
      }
      const round = this.decider.plan(await this.observer.withFreshPools(snapshot, a.troubledNodes), a);
      this.board.update(round.status, round.declinedPools);
      await this.executor.carryOut(round);
    } catch (err) {
      this.logger.warn(`failover check: ${(err as Error).message}`);
    } finally {
      this.busy = false;
    }
  }
}
