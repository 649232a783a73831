import { Controller } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import type { RmOpParsed, RmOpResults } from '@tandem/contracts';
import { ClusterService } from './cluster.service';
import { OperationLocks } from './operation-locks';

/**
 * The cluster operations on tandem.cluster.rm.{cluster,node,maintenance,auth}.* — served only while
 * this node holds the resource-manager lease. Changes of the cluster run one at a time.
 */
@Controller()
export class ClusterOpsConsumer {
  constructor(
    private readonly cluster: ClusterService,
    private readonly locks: OperationLocks,
  ) {}

  @MessagePattern('cluster.status')
  status(): Promise<RmOpResults['cluster.status']> {
    return this.cluster.status();
  }

  @MessagePattern('cluster.create')
  create(@Payload() req: RmOpParsed<'cluster.create'>): Promise<RmOpResults['cluster.create']> {
    return this.locks.cluster(() => this.cluster.create(req));
  }

  @MessagePattern('cluster.join')
  join(@Payload() req: RmOpParsed<'cluster.join'>): Promise<RmOpResults['cluster.join']> {
    return this.locks.cluster(() => this.cluster.join(req));
  }

  @MessagePattern('node.offline')
  offline(@Payload() req: RmOpParsed<'node.offline'>): Promise<RmOpResults['node.offline']> {
    return this.locks.cluster(() => this.cluster.offline(req));
  }

  @MessagePattern('node.online')
  online(@Payload() req: RmOpParsed<'node.online'>): Promise<RmOpResults['node.online']> {
    return this.locks.cluster(() => this.cluster.online(req));
  }

  @MessagePattern('node.remove')
  remove(@Payload() req: RmOpParsed<'node.remove'>): Promise<RmOpResults['node.remove']> {
    return this.locks.cluster(() => this.cluster.remove(req));
  }

  @MessagePattern('maintenance.set')
  maintenance(@Payload() req: RmOpParsed<'maintenance.set'>): Promise<RmOpResults['maintenance.set']> {
    return this.locks.cluster(() => this.cluster.maintenance(req));
  }

  @MessagePattern('auth.revoke-tokens')
  revokeTokens(@Payload() req: RmOpParsed<'auth.revoke-tokens'>): Promise<RmOpResults['auth.revoke-tokens']> {
    return this.locks.cluster(() => this.cluster.revokeTokens(req));
  }
}
