import { DynamicModule, Module } from '@nestjs/common';
import { readDatabaseConfig } from '@tandem/config';
import { DatabaseModule, LeadershipService, ServiceKitModule, type ServiceContext } from '@tandem/service-kit';
import { ActivityProjector } from './activity.projector';
import { ActivityService } from './activity.service';
import { PoolActions } from './pool-actions.service';
import { PoolOpsServer } from './pool-ops.server';
import { PoolStore } from './pool.store';
import { PoolService } from './pool.service';
import { ClusterStore } from './cluster.store';
import { ClusterService } from './cluster.service';
import { FailoverService } from './failover.service';
import { StreamLeaderKeeper } from './stream-leader.keeper';

@Module({})
export class ResourceManagerModule {
  static register(ctx: ServiceContext): DynamicModule {
    return {
      module: ResourceManagerModule,
      imports: [ServiceKitModule.forRoot(ctx), DatabaseModule.forRoot(readDatabaseConfig().url, `tandem-resource-manager@${ctx.config.nodeId}`)],
      providers: [
        LeadershipService,
        PoolStore,
        ClusterStore,
        ClusterService,
        PoolActions,
        ActivityService,
        ActivityProjector,
        PoolService,
        PoolOpsServer,
        FailoverService,
        StreamLeaderKeeper,
      ],
    };
  }
}
