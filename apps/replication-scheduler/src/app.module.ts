import { DynamicModule, Module } from '@nestjs/common';
import { readDatabaseConfig } from '@tandem/config';
import { DatabaseModule, LeadershipService, ServiceKitModule, type ServiceContext } from '@tandem/service-kit';
import { ReplicationScheduler } from './replication.scheduler';
import { SnapshotScheduleRunner } from './snapshot-schedules.runner';

@Module({})
export class ReplicationSchedulerModule {
  static register(ctx: ServiceContext): DynamicModule {
    return {
      module: ReplicationSchedulerModule,
      imports: [ServiceKitModule.forRoot(ctx), DatabaseModule.forRoot(readDatabaseConfig().url, `tandem-replication-scheduler@${ctx.config.nodeId}`)],
      // shared-nothing replication, and the snapshot schedules of every pool
      providers: [LeadershipService, ReplicationScheduler, SnapshotScheduleRunner],
    };
  }
}
