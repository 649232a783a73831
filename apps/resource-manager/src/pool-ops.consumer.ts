import { Controller } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import type { RmOpParsed, RmOpResults } from '@tandem/contracts';
import { OperationLocks } from './operation-locks';
import { PoolService } from './pool.service';

/**
 * The HA pool operations on tandem.cluster.rm.pool.* — served only while this node holds the
 * resource-manager lease (main.ts), so exactly one instance answers. Requests arrive validated
 * against the contract.
 */
@Controller()
export class PoolOpsConsumer {
  constructor(
    private readonly pools: PoolService,
    private readonly locks: OperationLocks,
  ) {}

  @MessagePattern('pool.list')
  list(): Promise<RmOpResults['pool.list']> {
    return this.pools.list();
  }

  @MessagePattern('pool.get')
  get(@Payload() req: RmOpParsed<'pool.get'>): Promise<RmOpResults['pool.get']> {
    return this.pools.get(req.pool);
  }

  @MessagePattern('pool.attach')
  attach(@Payload() req: RmOpParsed<'pool.attach'>): Promise<RmOpResults['pool.attach']> {
    return this.locks.pool(req.pool, () => this.pools.attach(req));
  }

  @MessagePattern('pool.move')
  move(@Payload() req: RmOpParsed<'pool.move'>): Promise<RmOpResults['pool.move']> {
    return this.locks.pool(req.pool, () => this.pools.move(req));
  }

  @MessagePattern('pool.detach')
  detach(@Payload() req: RmOpParsed<'pool.detach'>): Promise<RmOpResults['pool.detach']> {
    return this.locks.pool(req.pool, () => this.pools.detach(req));
  }

  @MessagePattern('pool.export')
  export(@Payload() req: RmOpParsed<'pool.export'>): Promise<RmOpResults['pool.export']> {
    return this.locks.pool(req.pool, () => this.pools.export(req));
  }

  @MessagePattern('pool.reattach')
  reattach(@Payload() req: RmOpParsed<'pool.reattach'>): Promise<RmOpResults['pool.reattach']> {
    return this.locks.pool(req.pool, () => this.pools.reattach(req));
  }

  @MessagePattern('pool.remove')
  remove(@Payload() req: RmOpParsed<'pool.remove'>): Promise<RmOpResults['pool.remove']> {
    return this.locks.pool(req.pool, () => this.pools.remove(req));
  }

  @MessagePattern('pool.mark-usable')
  markUsable(@Payload() req: RmOpParsed<'pool.mark-usable'>): Promise<RmOpResults['pool.mark-usable']> {
    return this.locks.pool(req.pool, () => this.pools.markUsable(req));
  }

  @MessagePattern('pool.schedule-add')
  scheduleAdd(@Payload() req: RmOpParsed<'pool.schedule-add'>): Promise<RmOpResults['pool.schedule-add']> {
    return this.locks.pool(req.pool, () => this.pools.scheduleAdd(req));
  }

  @MessagePattern('pool.schedule-remove')
  scheduleRemove(@Payload() req: RmOpParsed<'pool.schedule-remove'>): Promise<RmOpResults['pool.schedule-remove']> {
    return this.locks.pool(req.pool, () => this.pools.scheduleRemove(req));
  }

  @MessagePattern('pool.lun-add')
  lunAdd(@Payload() req: RmOpParsed<'pool.lun-add'>): Promise<RmOpResults['pool.lun-add']> {
    return this.locks.pool(req.pool, () => this.pools.lunAdd(req));
  }

  @MessagePattern('pool.lun-remove')
  lunRemove(@Payload() req: RmOpParsed<'pool.lun-remove'>): Promise<RmOpResults['pool.lun-remove']> {
    return this.locks.pool(req.pool, () => this.pools.lunRemove(req));
  }

  @MessagePattern('pool.chap-set')
  chapSet(@Payload() req: RmOpParsed<'pool.chap-set'>): Promise<RmOpResults['pool.chap-set']> {
    return this.locks.pool(req.pool, () => this.pools.chapSet(req));
  }

  @MessagePattern('pool.chap-clear')
  chapClear(@Payload() req: RmOpParsed<'pool.chap-clear'>): Promise<RmOpResults['pool.chap-clear']> {
    return this.locks.pool(req.pool, () => this.pools.chapClear(req));
  }

  @MessagePattern('pool.lun-list')
  lunList(@Payload() req: RmOpParsed<'pool.lun-list'>): Promise<RmOpResults['pool.lun-list']> {
    return this.pools.lunList(req.pool);
  }
}
