import { Controller, Inject } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import { Events, ipEntityId, type HostOpParsed, type HostOpResults } from '@tandem/contracts';
import { EventPublisher } from '@tandem/messaging';
import { SERVICE_CONTEXT, type ServiceContext } from '@tandem/service-kit';
import { NetworkService } from './network.service';

/** ip.* and link.* operations. */
@Controller()
export class NetworkConsumer {
  constructor(
    private readonly net: NetworkService,
    private readonly events: EventPublisher,
    @Inject(SERVICE_CONTEXT) private readonly ctx: ServiceContext,
  ) {}

  @MessagePattern('ip.list')
  list(@Payload() req: HostOpParsed<'ip.list'>): Promise<HostOpResults['ip.list']> {
    return this.net.addresses(req.interface);
  }

  @MessagePattern('ip.add')
  async add(@Payload() req: HostOpParsed<'ip.add'>): Promise<HostOpResults['ip.add']> {
    const r = await this.net.add(req);
    if (r.changed) {
      await this.events
        .publish(Events.ipAdded, ipEntityId(req.address), { node: this.ctx.config.nodeId, interface: req.interface, address: req.address, prefix: req.prefix })
        .catch(() => undefined);
    }
    return r;
  }

  @MessagePattern('ip.remove')
  async remove(@Payload() req: HostOpParsed<'ip.remove'>): Promise<HostOpResults['ip.remove']> {
    const r = await this.net.remove(req);
    if (r.changed) {
      await this.events
        .publish(Events.ipRemoved, ipEntityId(req.address), { node: this.ctx.config.nodeId, interface: req.interface, address: req.address, prefix: req.prefix })
        .catch(() => undefined);
    }
    return r;
  }

  @MessagePattern('link.list')
  links(): Promise<HostOpResults['link.list']> {
    return this.net.links();
  }
}
