import { Controller } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import type { RmOpParsed, RmOpResults } from '@tandem/contracts';
import { OperationLocks } from './operation-locks';
import { ShareUsersService } from './share-users.service';

/** The share users on tandem.cluster.rm.share-user.* — served only while this node holds the resource-manager lease. */
@Controller()
export class ShareUsersConsumer {
  constructor(
    private readonly users: ShareUsersService,
    private readonly locks: OperationLocks,
  ) {}

  @MessagePattern('share-user.list')
  list(): Promise<RmOpResults['share-user.list']> {
    return this.users.list();
  }

  @MessagePattern('share-user.add')
  add(@Payload() req: RmOpParsed<'share-user.add'>): Promise<RmOpResults['share-user.add']> {
    return this.locks.shareUsers(() => this.users.add(req));
  }

  @MessagePattern('share-user.password')
  password(@Payload() req: RmOpParsed<'share-user.password'>): Promise<RmOpResults['share-user.password']> {
    return this.locks.shareUsers(() => this.users.password(req));
  }

  @MessagePattern('share-user.remove')
  remove(@Payload() req: RmOpParsed<'share-user.remove'>): Promise<RmOpResults['share-user.remove']> {
    return this.locks.shareUsers(() => this.users.remove(req));
  }
}
