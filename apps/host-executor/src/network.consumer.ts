import { Controller, Inject } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import { Events, ipEntityId, type HostOpParsed, type HostOpResults } from '@tandem/contracts';
import { checkVipsOffClusterNetworks } from '@tandem/domain';
import { OrderedEvents } from '@tandem/messaging';
import { SERVICE_CONTEXT, type ServiceContext } from '@tandem/service-kit';
import { NetworkService } from './network.service';
import { EpochAuthority } from './fencing/epoch-authority.service';
import { HeldPools } from './fencing/held-pools.service';
import { LeaseRenewer } from './fencing/lease-renewer.service';
import { ReplicationRecords } from './replication/replication-records.service';

/** ip.* and link.* operations. */
@Controller()
export class NetworkConsumer {
  constructor(
    private readonly net: NetworkService,
    private readonly held: HeldPools,
    private readonly events: OrderedEvents,
    @Inject(SERVICE_CONTEXT) private readonly ctx: ServiceContext,
    private readonly records: ReplicationRecords,
    private readonly authority: EpochAuthority,
    private readonly lease: LeaseRenewer,
  ) {}

  @MessagePattern('ip.list')
  list(@Payload() req: HostOpParsed<'ip.list'>): Promise<HostOpResults['ip.list']> {
    return this.net.addresses(req.interface);
  }

  @MessagePattern('ip.add')
  async add(@Payload() req: HostOpParsed<'ip.add'>): Promise<HostOpResults['ip.add']> {
    // never on the cluster's own links, whoever asks (the cluster record as this node knows it)
    const cluster = this.records.cluster();
    if (cluster) checkVipsOffClusterNetworks([{ interface: req.interface, address: req.address, prefix: req.prefix }], cluster, { interface: 'interface', address: 'address' });
    // a pool's floating IP under an epoch: never one beyond the pool record's next
    if (req.pool !== undefined && req.epoch !== undefined) {
      // like an import: only with a fresh ownership lease (one that comes up while the node
      // fences is held below, and so goes down on the fence's next look)
      this.lease.requireFresh(req.pool);
      await this.authority.check(req.pool, req.epoch, 'a floating IP');
    }
    const r = await this.net.add(req);
    // a floating IP of a pool run under an epoch goes down with the pool when this node fences
    if (req.pool !== undefined && req.epoch !== undefined) this.held.ipAdded(req.pool, req.epoch, { interface: req.interface, address: req.address, prefix: req.prefix });
    if (r.changed) this.events.publish(Events.ipAdded, ipEntityId(req.address), { node: this.ctx.config.nodeId, interface: req.interface, address: req.address, prefix: req.prefix });
    return r;
  }

  @MessagePattern('ip.remove')
  async remove(@Payload() req: HostOpParsed<'ip.remove'>): Promise<HostOpResults['ip.remove']> {
    const r = await this.net.remove(req);
    if (r.changed) this.events.publish(Events.ipRemoved, ipEntityId(req.address), { node: this.ctx.config.nodeId, interface: req.interface, address: req.address, prefix: req.prefix });
    return r;
  }

  @MessagePattern('link.list')
  links(): Promise<HostOpResults['link.list']> {
    return this.net.links();
  }
}
