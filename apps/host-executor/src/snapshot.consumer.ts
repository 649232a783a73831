import { Controller } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import type { HostOpParsed, HostOpResults } from '@tandem/contracts';
import { StreamService } from './stream.service';
import { ZfsService } from './zfs.service';
import { TestOpsGuard } from './test-ops.guard';

/** snapshot.* and stream.* operations. */
@Controller()
export class SnapshotConsumer {
  constructor(
    private readonly zfs: ZfsService,
    private readonly streams: StreamService,
    private readonly testOps: TestOpsGuard,
  ) {}

  @MessagePattern('snapshot.create')
  create(@Payload() req: HostOpParsed<'snapshot.create'>): Promise<HostOpResults['snapshot.create']> {
    return this.zfs.createSnapshot(req);
  }

  @MessagePattern('snapshot.list')
  list(@Payload() req: HostOpParsed<'snapshot.list'>): Promise<HostOpResults['snapshot.list']> {
    return this.zfs.listSnapshots(req.dataset, req.recursive);
  }

  @MessagePattern('snapshot.destroy')
  destroy(@Payload() req: HostOpParsed<'snapshot.destroy'>): Promise<HostOpResults['snapshot.destroy']> {
    return this.zfs.destroySnapshot(req.snapshot);
  }

  @MessagePattern('snapshot.hold')
  hold(@Payload() req: HostOpParsed<'snapshot.hold'>): Promise<HostOpResults['snapshot.hold']> {
    return this.zfs.hold(req.snapshot, req.tag);
  }

  @MessagePattern('snapshot.release')
  release(@Payload() req: HostOpParsed<'snapshot.release'>): Promise<HostOpResults['snapshot.release']> {
    return this.zfs.release(req.snapshot, req.tag);
  }

  @MessagePattern('stream.receive')
  receive(@Payload() req: HostOpParsed<'stream.receive'>): Promise<HostOpResults['stream.receive']> {
    this.testOps.require('stream.receive');
    return this.streams.receive(req);
  }

  @MessagePattern('stream.send')
  send(@Payload() req: HostOpParsed<'stream.send'>): Promise<HostOpResults['stream.send']> {
    this.testOps.require('stream.send');
    return this.streams.send(req);
  }
}
