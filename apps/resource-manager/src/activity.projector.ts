import { Inject, Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { activityProjectionConsumer } from '@tandem/contracts';
import { consumeEvents } from '@tandem/messaging';
import { ActivityLog } from '@tandem/persistence';
import { SERVICE_CONTEXT, type ServiceContext } from '@tandem/service-kit';

/**
 * Feeds this node's Postgres from the replicated event stream: every activity entry, written
 * once (keyed by event id), so any node's API lists the same log, and losing one node's
 * Postgres loses nothing.
 */
@Injectable()
export class ActivityProjector implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('activity-projector');
  private stop?: () => Promise<void>;

  constructor(
    @Inject(SERVICE_CONTEXT) private readonly ctx: ServiceContext,
    private readonly log: ActivityLog,
  ) {}

  async onModuleInit(): Promise<void> {
    this.stop = await consumeEvents(this.ctx.nc, activityProjectionConsumer(this.ctx.config.nodeId), (e) => this.log.record({ ...e.data, eventId: e.id, at: new Date(e.at) }), {
      onMalformed: (why) => this.logger.warn(`dropping a malformed activity event: ${why}`),
    });
  }

  async onApplicationShutdown(): Promise<void> {
    await this.stop?.();
  }
}
