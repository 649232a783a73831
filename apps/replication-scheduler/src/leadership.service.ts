import { Inject, Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { LEASES_BUCKET } from '@tandem/contracts';
import { LeaderElection } from '@tandem/messaging';
import { ReadinessService, SERVICE_CONTEXT, type ServiceContext } from '@tandem/service-kit';

/** One active replication-scheduler per cluster; the others stand by and take over when its lease goes silent. */
@Injectable()
export class LeadershipService implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('leadership');
  private election?: LeaderElection;

  constructor(
    @Inject(SERVICE_CONTEXT) private readonly ctx: ServiceContext,
    private readonly readiness: ReadinessService,
  ) {}

  get isLeader(): boolean {
    return this.election?.isLeader ?? false;
  }

  async onModuleInit(): Promise<void> {
    const kv = await this.ctx.nc.jetstream().views.kv(LEASES_BUCKET.bucket);
    this.election = new LeaderElection(kv, 'leader.replication-scheduler', this.ctx.config.nodeId, { renewMs: 1_000, fenceMs: 4_000, takeoverMs: 6_000 }, (leader) =>
      this.logger.log(leader ? 'active (leader) on this node' : 'standby on this node'),
    );
    this.election.start();
    this.readiness.register('leadership', () => true);
  }

  async onApplicationShutdown(): Promise<void> {
    await this.election?.stop();
  }
}
