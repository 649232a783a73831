import { Controller } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import type { RmOpParsed, RmOpResults } from '@tandem/contracts';
import { OperationLocks } from '../operation-locks';
import { ReplicationService } from './replication.service';

/** The replication operations on tandem.cluster.rm.replication.* — served by the lease holder, like the pool and cluster operations. */
@Controller()
export class ReplicationOpsConsumer {
  constructor(
    private readonly replication: ReplicationService,
    private readonly locks: OperationLocks,
  ) {}

  @MessagePattern('replication.settings')
  settings(@Payload() req: RmOpParsed<'replication.settings'>): Promise<RmOpResults['replication.settings']> {
    return this.locks.cluster(() => this.replication.settings(req));
  }

  @MessagePattern('replication.status')
  status(@Payload() req: RmOpParsed<'replication.status'>): Promise<RmOpResults['replication.status']> {
    return this.replication.status(req);
  }

  @MessagePattern('replication.resume')
  resume(@Payload() req: RmOpParsed<'replication.resume'>): Promise<RmOpResults['replication.resume']> {
    return this.locks.pool(req.pool, () => this.replication.resume(req));
  }

  @MessagePattern('replication.keys-rotate')
  rotate(@Payload() req: RmOpParsed<'replication.keys-rotate'>): Promise<RmOpResults['replication.keys-rotate']> {
    return this.locks.cluster(() => this.replication.rotateKeys(req));
  }
}
