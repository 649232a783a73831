import { DynamicModule, Module } from '@nestjs/common';
import { ServiceKitModule, type ServiceContext } from '@tandem/service-kit';
import { ClusterMembershipService } from './cluster-membership.service';
import { HEARTBEAT_CONFIG, readHeartbeatConfig } from './heartbeat.config';
import { LivenessService } from './liveness.service';
import { LocalHealthService } from './local-health.service';
import { PeerMonitorService } from './peer-monitor.service';
import { PeersController } from './peers.controller';

@Module({})
export class HeartbeatModule {
  static register(ctx: ServiceContext): DynamicModule {
    return {
      module: HeartbeatModule,
      imports: [ServiceKitModule.forRoot(ctx)],
      controllers: [PeersController],
      providers: [{ provide: HEARTBEAT_CONFIG, useFactory: () => readHeartbeatConfig() }, ClusterMembershipService, PeerMonitorService, LocalHealthService, LivenessService],
    };
  }
}
