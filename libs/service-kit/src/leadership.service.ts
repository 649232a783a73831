import { Inject, Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { LEADER_LEASE_RECORD } from '@tandem/contracts';
import { LeaderElection, bindKv } from '@tandem/messaging';
import { ReadinessService } from './readiness.service';
import { SERVICE_CONTEXT, type ServiceContext } from './tokens';

/**
 * For services that run one active instance per cluster (resource-manager, replication-scheduler):
 * the others stand by and take over when the active one's lease goes silent.
 */
@Injectable()
export class LeadershipService implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('leadership');
  private election?: LeaderElection;
  private readonly listeners: Array<(leader: boolean) => void> = [];

  /** Called with true when this node becomes the active instance, false when it stops being it. */
  onChange(listener: (leader: boolean) => void): void {
    this.listeners.push(listener);
    if (this.isLeader) listener(true);
  }

  constructor(
    @Inject(SERVICE_CONTEXT) private readonly ctx: ServiceContext,
    private readonly readiness: ReadinessService,
  ) {}

  get isLeader(): boolean {
    return this.election?.isLeader ?? false;
  }

  async onModuleInit(): Promise<void> {
    const kv = await bindKv(this.ctx.nc, LEADER_LEASE_RECORD.bucket.bucket);
    this.election = new LeaderElection(kv, LEADER_LEASE_RECORD.key(this.ctx.service), this.ctx.config.nodeId, { renewMs: 1_000, fenceMs: 4_000, takeoverMs: 6_000 }, (leader) => {
      this.logger.log(leader ? `${this.ctx.service} active (leader) on this node` : `${this.ctx.service} standby on this node`);
      for (const l of this.listeners) l(leader);
    });
    this.election.start();
    this.readiness.register('leadership', () => true);
  }

  async onApplicationShutdown(): Promise<void> {
    await this.election?.stop();
  }
}
