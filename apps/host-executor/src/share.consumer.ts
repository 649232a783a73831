import { Controller } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import type { HostOpParsed, HostOpResults } from '@tandem/contracts';
import { ShareService } from './share.service';

/** share.* operations. */
@Controller()
export class ShareConsumer {
  constructor(private readonly shares: ShareService) {}

  @MessagePattern('share.start')
  start(@Payload() req: HostOpParsed<'share.start'>): Promise<HostOpResults['share.start']> {
    return this.shares.start(req);
  }

  @MessagePattern('share.stop')
  stop(@Payload() req: HostOpParsed<'share.stop'>): Promise<HostOpResults['share.stop']> {
    return this.shares.stop(req);
  }

  @MessagePattern('share.list')
  list(): Promise<HostOpResults['share.list']> {
    return this.shares.list();
  }
}
