import { DynamicModule, Module } from '@nestjs/common';
import { DatabaseModule, LeadershipService, ServiceKitModule, type ServiceContext } from '@tandem/service-kit';
import { ActivityProjector } from './activity.projector';
import { ActivityService } from './activity.service';
import { ClusterOpsConsumer } from './cluster-ops.consumer';
import { ClusterService } from './cluster.service';
import { ClusterStore } from './cluster.store';
import { ClusterViewObserver } from './failover/cluster-view.observer';
import { FailoverExecutor } from './failover/failover.executor';
import { FailoverService } from './failover/failover.service';
import { FailoverStatusBoard } from './failover/failover-status.board';
import { OperationLocks } from './operation-locks';
import { ChapStore } from './chap.store';
import { PoolActions } from './pool-actions.service';
import { PoolHooks } from './pool-hooks.service';
import { PoolOpsConsumer } from './pool-ops.consumer';
import { PoolService } from './pool.service';
import { ShareUsersConsumer } from './share-users.consumer';
import { ShareUsersService } from './share-users.service';
import { PoolStore } from './pool.store';
import { PoolMetrics } from './pool-metrics';
import { RESOURCE_MANAGER_CONFIG, type ResourceManagerConfig } from './resource-manager.config';
import { ReplicationOpsConsumer } from './replication/replication-ops.consumer';
import { ReplicationService } from './replication/replication.service';
import { replicationStoreProvider } from './replication/replication.store';
import { StreamLeaderKeeper } from './stream-leader.keeper';

@Module({})
export class ResourceManagerModule {
  static register(ctx: ServiceContext, cfg: ResourceManagerConfig): DynamicModule {
    return {
      module: ResourceManagerModule,
      imports: [ServiceKitModule.forRoot(ctx), DatabaseModule.forRoot(cfg.database.url, `tandem-resource-manager@${ctx.config.nodeId}`)],
      controllers: [PoolOpsConsumer, ClusterOpsConsumer, ReplicationOpsConsumer, ShareUsersConsumer],
      providers: [
        { provide: RESOURCE_MANAGER_CONFIG, useValue: cfg },
        LeadershipService,
        OperationLocks,
        PoolStore,
        ClusterStore,
        PoolActions,
        ChapStore,
        PoolHooks,
        ActivityService,
        ActivityProjector,
        PoolService,
        PoolMetrics,
        ShareUsersService,
        // shared-nothing replication: settings, status, resume, keys (the schedules run in the replication-scheduler)
        replicationStoreProvider(ctx),
        ReplicationService,
        ClusterService,
        // automatic failover: observe → decide (libs/domain) → act
        ClusterViewObserver,
        FailoverStatusBoard,
        FailoverExecutor,
        FailoverService,
        StreamLeaderKeeper,
      ],
    };
  }
}
