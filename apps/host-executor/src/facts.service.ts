import { Inject, Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { Events } from '@tandem/contracts';
import { EventPublisher } from '@tandem/messaging';
import { SERVICE_CONTEXT, type ServiceContext } from '@tandem/service-kit';
import { HOST_EXECUTOR_CONFIG, type HostExecutorConfig } from './host-executor.config';
import { NetworkService } from './network.service';
import { ZfsService } from './zfs.service';

/** Publishes this node's facts (pools and health, links, addresses) when they change. */
@Injectable()
export class FactsService implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('facts');
  private timer?: NodeJS.Timeout;
  private last = { pools: '', links: '', addresses: '' };
  private running = false;

  constructor(
    private readonly zfs: ZfsService,
    private readonly net: NetworkService,
    private readonly events: EventPublisher,
    @Inject(SERVICE_CONTEXT) private readonly ctx: ServiceContext,
    @Inject(HOST_EXECUTOR_CONFIG) private readonly cfg: HostExecutorConfig,
  ) {}

  onModuleInit(): void {
    this.timer = setInterval(() => void this.refresh(), this.cfg.factsIntervalMs);
    setTimeout(() => void this.refresh(), 100);
  }

  /** Compare with what was last published; publish what changed. */
  async refresh(): Promise<void> {
    if (this.running) return;
    this.running = true;
    const node = this.ctx.config.nodeId;
    try {
      const pools = (await this.zfs.listPools().catch(() => null))?.map(({ name, guid, health, sizeBytes, allocatedBytes, freeBytes }) => ({
        name,
        guid,
        health,
        sizeBytes,
        allocatedBytes,
        freeBytes,
      }));
      const links = await this.net.links().catch(() => null);
      const addresses = await this.net.addresses().catch(() => null);
      // sizes change with every write: pools "change" when membership or health does
      const poolKey = JSON.stringify(pools?.map((p) => [p.name, p.health]));
      if (pools && poolKey !== this.last.pools) {
        await this.events.publish(Events.nodePoolsChanged, node, { pools });
        this.last.pools = poolKey;
      }
      const linkKey = JSON.stringify(links?.map((l) => [l.name, l.up, l.carrier]));
      if (links && linkKey !== this.last.links) {
        await this.events.publish(Events.nodeLinksChanged, node, { links });
        this.last.links = linkKey;
      }
      const addrKey = JSON.stringify(addresses);
      if (addresses && addrKey !== this.last.addresses) {
        await this.events.publish(Events.nodeAddressesChanged, node, { addresses });
        this.last.addresses = addrKey;
      }
    } catch (err) {
      this.logger.warn(`could not publish facts: ${(err as Error).message}`);
    } finally {
      this.running = false;
    }
  }

  onApplicationShutdown(): void {
    clearInterval(this.timer);
  }
}
