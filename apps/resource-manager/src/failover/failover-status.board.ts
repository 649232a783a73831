import { Inject, Injectable, Logger } from '@nestjs/common';
import { Events, type FailoverStatus } from '@tandem/contracts';
import { OrderedEvents } from '@tandem/messaging';
import { SERVICE_CONTEXT, type ServiceContext } from '@tandem/service-kit';

/**
 * Automatic failover as this node sees it, for `cluster status`: why it is declined (null: it is
 * not), the alarms, whether the witness answers. Replaced whole after every decision; a newly
 * declined failover is also announced once (`tandem.evt.cluster.<id>.failover-declined`).
 */
@Injectable()
export class FailoverStatusBoard {
  private readonly logger = new Logger('failover');
  private current: FailoverStatus = { declined: null, alarms: [], witness: null };

  constructor(
    @Inject(SERVICE_CONTEXT) private readonly ctx: ServiceContext,
    private readonly events: OrderedEvents,
  ) {}

  get status(): FailoverStatus {
    return this.current;
  }

  /** The latest decision's view; `pools`: the pools concerned when it declines. */
  update(next: FailoverStatus, pools: string[]): void {
    const before = this.current.declined;
    this.current = { declined: next.declined, alarms: [...next.alarms], witness: next.witness };
    if (next.declined === before || !next.declined) return;
    this.logger.warn(`automatic failover declined: ${next.declined}`);
    this.events.publish(Events.failoverDeclined, this.ctx.config.clusterId, { observer: this.ctx.config.nodeId, pools, reason: next.declined });
  }
}
