import { Controller, Inject } from '@nestjs/common';
import { MessagePattern } from '@nestjs/microservices';
import { hostname } from 'node:os';
import type { HostOpResults } from '@tandem/contracts';
import { SERVICE_CONTEXT, type ServiceContext } from '@tandem/service-kit';
import { HOST_EXECUTOR_CONFIG, type HostExecutorConfig } from './host-executor.config';
import { HeldPools } from './fencing/held-pools.service';
import { LeaseRenewer } from './fencing/lease-renewer.service';
import { ZfsService } from './zfs.service';

@Controller()
export class NodeConsumer {
  constructor(
    private readonly zfs: ZfsService,
    @Inject(SERVICE_CONTEXT) private readonly ctx: ServiceContext,
    @Inject(HOST_EXECUTOR_CONFIG) private readonly cfg: HostExecutorConfig,
    private readonly lease: LeaseRenewer,
    private readonly held: HeldPools,
  ) {}

  @MessagePattern('node.info')
  async info(): Promise<HostOpResults['node.info']> {
    return {
      nodeId: this.ctx.config.nodeId,
      hostname: hostname(),
      deviceDir: this.cfg.deviceDir,
      zfsAvailable: await this.zfs.available(),
      version: '0.1.0',
      ownership: { ...this.lease.view(), held: this.held.names() },
    };
  }
}
