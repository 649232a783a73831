import { DynamicModule, Module, OnModuleInit } from '@nestjs/common';
import { ProcessRunner } from '@tandem/host';
import { ReadinessService, ServiceKitModule, type ServiceContext } from '@tandem/service-kit';
import { DiskProbeService } from './disk-probe.service';
import { EpochGuard } from './epoch-guard.service';
import { FactsService } from './facts.service';
import { HardFencer } from './fencing/hard-fencer.service';
import { EpochAuthority } from './fencing/epoch-authority.service';
import { HeldPools } from './fencing/held-pools.service';
import { LeaseRenewer } from './fencing/lease-renewer.service';
import { SelfFenceService } from './fencing/self-fence.service';
import { HOST_EXECUTOR_CONFIG, type HostExecutorConfig } from './host-executor.config';
import { NetworkConsumer } from './network.consumer';
import { NetworkService } from './network.service';
import { NodeConsumer } from './node.consumer';
import { PoolConsumer } from './pool.consumer';
import { KeepAsideService } from './replication/keep-aside.service';
import { ReplicationRecords } from './replication/replication-records.service';
import { ReplicationReceiver } from './replication/replication-receiver.service';
import { ReplicationConsumer } from './replication/replication.consumer';
import { SshEndpointService } from './replication/ssh-endpoint.service';
import { SshKeysService } from './replication/ssh-keys.service';
import { IscsiConsumer } from './iscsi.consumer';
import { IscsiService } from './iscsi.service';
import { IscsiTargets } from './iscsi-targets.service';
import { ShareConsumer } from './share.consumer';
import { ShareService } from './share.service';
import { ShareUsersService } from './share-users.service';
import { SnapshotConsumer } from './snapshot.consumer';
import { StreamService } from './stream.service';
import { TestOpsGuard } from './test-ops.guard';
import { ZfsService } from './zfs.service';

import { HookConsumer } from './hooks/hook.consumer';
import { HookService } from './hooks/hook.service';
@Module({})
export class HostExecutorModule implements OnModuleInit {
  constructor(
    private readonly readiness: ReadinessService,
    private readonly zfs: ZfsService,
  ) {}

  static register(ctx: ServiceContext, cfg: HostExecutorConfig): DynamicModule {
    return {
      module: HostExecutorModule,
      imports: [ServiceKitModule.forRoot(ctx)],
      controllers: [PoolConsumer, SnapshotConsumer, NetworkConsumer, ShareConsumer, IscsiConsumer, NodeConsumer, ReplicationConsumer, HookConsumer],
      providers: [
        { provide: HOST_EXECUTOR_CONFIG, useValue: cfg },
        { provide: ProcessRunner, useValue: new ProcessRunner(cfg.commandTimeoutMs) },
        EpochGuard,
        TestOpsGuard,
        ZfsService,
        NetworkService,
        ShareService,
        IscsiTargets,
        IscsiService,
        ShareUsersService,
        StreamService,
        FactsService,
        LeaseRenewer,
        HeldPools,
        HardFencer,
        SelfFenceService,
        DiskProbeService,
        SshKeysService,
        ReplicationRecords,
        EpochAuthority,
        SshEndpointService,
        ReplicationReceiver,
        KeepAsideService,
        HookService,
      ],
    };
  }

  onModuleInit(): void {
    this.readiness.register('zfs', async () => ((await this.zfs.available()) ? true : 'the ZFS daemon does not answer (zpool list failed)'));
  }
}
