import { Controller, Inject } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import { ErrorCode, Events, TandemError, type HostOpParsed, type HostOpResults } from '@tandem/contracts';
import { OrderedEvents } from '@tandem/messaging';
import { SERVICE_CONTEXT, type ServiceContext } from '@tandem/service-kit';
import { EpochAuthority } from './fencing/epoch-authority.service';
import { HardFencer } from './fencing/hard-fencer.service';
import { HeldPools } from './fencing/held-pools.service';
import { LeaseRenewer } from './fencing/lease-renewer.service';
import { ZfsService } from './zfs.service';
import { TestOpsGuard } from './test-ops.guard';

/** pool.* and dataset.* operations. Requests arrive validated against the contract. */
@Controller()
export class PoolConsumer {
  constructor(
    private readonly zfs: ZfsService,
    private readonly events: OrderedEvents,
    @Inject(SERVICE_CONTEXT) private readonly ctx: ServiceContext,
    private readonly lease: LeaseRenewer,
    private readonly held: HeldPools,
    private readonly hardFencer: HardFencer,
    private readonly testOps: TestOpsGuard,
    private readonly authority: EpochAuthority,
  ) {}

  @MessagePattern('pool.list')
  async list(): Promise<HostOpResults['pool.list']> {
    return [...(await this.zfs.listPools())];
  }

  @MessagePattern('pool.status')
  status(@Payload() req: HostOpParsed<'pool.status'>): Promise<HostOpResults['pool.status']> {
    return this.zfs.poolStatus(req.pool);
  }

  @MessagePattern('pool.importable')
  importable(): Promise<HostOpResults['pool.importable']> {
    return this.zfs.importable();
  }

  @MessagePattern('pool.import')
  async import(@Payload() req: HostOpParsed<'pool.import'>): Promise<HostOpResults['pool.import']> {
    if (req.role !== 'serve') this.refuseOlderThanServed(req.pool, req.epoch, 'it becomes a passive copy');
    // under the cluster's authority (an epoch): only with a fresh ownership lease
    if (req.epoch !== undefined && req.role === 'serve') this.lease.requireFresh(req.pool);
    // req.role: serve, replica or retrieval; a pool already imported is brought to it (changed, not imported)
    // a managed pool is served only under an epoch, and never one beyond its record's next
    const authorize = req.role === 'serve' || req.epoch !== undefined ? () => this.authority.check(req.pool, req.epoch, 'an import to serve it') : undefined;
    const { imported, ...r } = await this.zfs.importPool(req, authorize);
    // held from now on, whether or not the records say so yet (a fence running during the import
    // that found nothing to export sees it on its next tick)
    if (req.epoch !== undefined && req.role === 'serve') this.held.imported(req.pool, req.epoch);
    // a replicated pool's copy that stops being served (a passive replica, or kept for retrieval)
    // is no longer this node's to fence: nothing of it is served here
    if (req.role !== 'serve') this.held.exported(req.pool);
    if (imported) this.events.publish(Events.poolImported, req.pool, { node: this.ctx.config.nodeId, forced: req.force, epoch: req.epoch });
    return r;
  }

  /**
   * A pool this node serves under an epoch stops being served here (it becomes a replica or a
   * retrieval copy, or is released) only on the word of the operation that carries that epoch or
   * a newer one (a move, a failover): never on that of a scheduler that has not seen the pool move
   * here yet, nor of an old message played again.
   */
  private refuseOlderThanServed(pool: string, epoch: number | undefined, what: string): void {
    const held = this.held.entries().find(([p]) => p === pool)?.[1];
    if (!held || (epoch !== undefined && epoch >= held.epoch)) return;
    throw new TandemError(
      ErrorCode.StaleEpoch,
      `pool ${pool} is served on this node (epoch ${held.epoch}): ${what} only when a move or a failover releases it here${epoch !== undefined ? ` (this request carries epoch ${epoch})` : ''}`,
      'epoch',
    );
  }

  @MessagePattern('pool.export')
  async export(@Payload() req: HostOpParsed<'pool.export'>): Promise<HostOpResults['pool.export']> {
    if (req.hardFenceAfterMs !== undefined) {
      // a release may end with this node's ZFS daemon killed: only on the word of the pool's current record
      await this.authority.check(req.pool, req.epoch, 'a release that may fence this node harder');
      this.refuseOlderThanServed(req.pool, req.epoch, 'it is let go of');
    }
    const r = req.hardFenceAfterMs === undefined ? await this.zfs.exportPool(req) : await this.release(req.pool, req.hardFenceAfterMs);
    this.held.exported(req.pool);
    if (r.changed) this.events.publish(Events.poolExported, req.pool, { node: this.ctx.config.nodeId, forced: req.force });
    return r;
  }

  /**
   * The node must let go of `pool`: a forced export (shares first), and when it has not
   * finished within `boundMs` — a pool whose disks stopped answering never exports — the harder
   * fence. The whole call is bounded: the hung export is left behind (it ends with the daemon).
   */
  private async release(pool: string, boundMs: number): Promise<HostOpResults['pool.export']> {
    const exporting = this.zfs.exportPool({ pool, force: true }, boundMs);
    exporting.catch(() => undefined);
    const timedOut = Symbol('timeout');
    let why: string;
    try {
      const r = await Promise.race([exporting, new Promise<typeof timedOut>((r) => setTimeout(() => r(timedOut), boundMs + 1_000).unref())]);
      if (r !== timedOut) return r;
      why = `the forced export did not finish within ${boundMs} ms`;
    } catch (err) {
      why = (err as Error).message;
    }
    if (await this.hardFencer.fence(`pool ${pool} must leave this node but could not be exported (${why})`)) return { changed: true, hardFenced: true };
    throw new TandemError(
      ErrorCode.PoolBusy,
      `pool ${pool} could not be exported (${why}) and the harder fence (TANDEM_HARD_FENCE=${this.hardFencer.mode}) did not release it: it may still be imported here. Power this node off, then run \`tandem pool reattach ${pool} --node <a healthy node>\``,
      'pool',
    );
  }

  @MessagePattern('pool.create')
  create(@Payload() req: HostOpParsed<'pool.create'>): Promise<HostOpResults['pool.create']> {
    this.testOps.require('pool.create');
    return this.zfs.createPool(req);
  }

  @MessagePattern('pool.destroy')
  destroy(@Payload() req: HostOpParsed<'pool.destroy'>): Promise<HostOpResults['pool.destroy']> {
    this.testOps.require('pool.destroy');
    return this.zfs.destroyPool(req);
  }

  @MessagePattern('dataset.list')
  datasets(@Payload() req: HostOpParsed<'dataset.list'>): Promise<HostOpResults['dataset.list']> {
    return this.zfs.listDatasets(req.root);
  }

  @MessagePattern('dataset.create')
  createDataset(@Payload() req: HostOpParsed<'dataset.create'>): Promise<HostOpResults['dataset.create']> {
    this.testOps.require('dataset.create');
    return this.zfs.createDataset(req.dataset, req.mode);
  }
}
