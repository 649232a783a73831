import { Inject, Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { DEFAULT_FAILOVER_SETTINGS, FailoverDecider } from '@tandem/domain';
import { RESOURCE_MANAGER_CONFIG, type ResourceManagerConfig } from '../resource-manager.config';
import { ClusterViewObserver } from './cluster-view.observer';
import { FailoverExecutor } from './failover.executor';
import { FailoverStatusBoard } from './failover-status.board';

/** How often the loop looks when nothing is due sooner. */
const ROUND_MS = 100;

/**
 * Automatic failover, every 100 ms and at the instant a lost peer's fence time is over, in three rooms: observe (ClusterViewObserver: one immutable
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
  /** The round timed to a waiting peer's takeover instant (see Assessment.nextLookAt). */
  private due?: { at: number; timer: NodeJS.Timeout };
  private busy = false;
  /** A round asked for while one ran: run it as soon as that one ends. */
  private again = false;
  private stopped = false;

  constructor(
    @Inject(RESOURCE_MANAGER_CONFIG) cfg: ResourceManagerConfig,
    @Inject(ClusterViewObserver) private readonly observer: Pick<ClusterViewObserver, 'observe' | 'withFreshPools'>,
    @Inject(FailoverExecutor) private readonly executor: Pick<FailoverExecutor, 'carryOut'>,
    @Inject(FailoverStatusBoard) private readonly board: Pick<FailoverStatusBoard, 'update'>,
  ) {
    this.decider = new FailoverDecider({ ...DEFAULT_FAILOVER_SETTINGS, timings: cfg.failover.timings, holdDownMs: cfg.holdDownMs });
  }

  onModuleInit(): void {
    this.timer = setInterval(() => void this.tick(), ROUND_MS);
  }

  onApplicationShutdown(): void {
    this.stopped = true;
    clearInterval(this.timer);
    clearTimeout(this.due?.timer);
  }

  /** One round (exposed for tests). A round asked for while one runs follows it at once (a timed one must not be lost). */
  async tick(): Promise<void> {
    if (this.busy) {
      this.again = true;
      return;
    }
    this.busy = true;
    try {
      await this.round();
    } finally {
      this.busy = false;
    }
    if (this.again && !this.stopped) {
      this.again = false;
      void this.tick();
    }
  }

  /**
   * Look again at `at` (monotonic ms) when that comes before the next round: a lost peer is taken
   * over when its fence time is over, not up to a round later. One such look is kept, the earliest.
   */
  private lookAgainAt(at: number): void {
    const wait = at - performance.now();
    if (this.stopped || wait >= ROUND_MS || (this.due && this.due.at <= at)) return;
    clearTimeout(this.due?.timer);
    const timer = setTimeout(
      () => {
        this.due = undefined;
        void this.tick();
      },
      // a timer may fire a little early by this clock: one more millisecond
      Math.max(0, Math.ceil(wait) + 1),
    );
    this.due = { at, timer };
  }

  private async round(): Promise<void> {
    try {
      const snapshot = await this.observer.observe();
      const a = this.decider.assess(snapshot);
      if (!a) return;
      if (a.kind === 'nothing') {
        this.board.update(a.status, a.declinedPools);
        if (a.nextLookAt !== null) this.lookAgainAt(a.nextLookAt);
        return;
      }
      const round = this.decider.plan(await this.observer.withFreshPools(snapshot, a.troubledNodes), a);
      this.board.update(round.status, round.declinedPools);
      await this.executor.carryOut(round);
    } catch (err) {
      this.logger.warn(`failover check: ${(err as Error).message}`);
    }
  }
}
