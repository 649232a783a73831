import { Controller } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import type { HostOpParsed, HostOpResults } from '@tandem/contracts';
import { IscsiService } from './iscsi.service';

/** lun.* and iscsi.* operations: LUN backings and the pool's block target. */
@Controller()
export class IscsiConsumer {
  constructor(private readonly iscsi: IscsiService) {}

  @MessagePattern('lun.create')
  create(@Payload() req: HostOpParsed<'lun.create'>): Promise<HostOpResults['lun.create']> {
    return this.iscsi.create(req);
  }

  @MessagePattern('lun.destroy')
  destroy(@Payload() req: HostOpParsed<'lun.destroy'>): Promise<HostOpResults['lun.destroy']> {
    return this.iscsi.destroy(req);
  }

  @MessagePattern('iscsi.start')
  start(@Payload() req: HostOpParsed<'iscsi.start'>): Promise<HostOpResults['iscsi.start']> {
    return this.iscsi.start(req);
  }

  @MessagePattern('iscsi.stop')
  stop(@Payload() req: HostOpParsed<'iscsi.stop'>): Promise<HostOpResults['iscsi.stop']> {
    return this.iscsi.stop(req);
  }

  @MessagePattern('iscsi.list')
  list(): Promise<HostOpResults['iscsi.list']> {
    return this.iscsi.list();
  }
}
