import { DynamicModule, Global, Inject, Logger, Module, OnApplicationShutdown, OnModuleInit, BeforeApplicationShutdown } from '@nestjs/common';
import { EventPublisher, HeartbeatClient, HostClient, OrderedEvents, ResourceManagerClient } from '@tandem/messaging';
import { HealthController } from './health.controller';
import { MetricsController } from './metrics.controller';
import { ReadinessService } from './readiness.service';
import { NATS_CONNECTION, SERVICE_CONTEXT, type ServiceContext } from './tokens';

/** What every service gets: its context, the NATS connection, events, host calls, health. */
@Global()
@Module({})
export class ServiceKitModule implements OnModuleInit, BeforeApplicationShutdown, OnApplicationShutdown {
  private readonly logger = new Logger('ServiceKit');

  constructor(
    @Inject(SERVICE_CONTEXT) private readonly ctx: ServiceContext,
    private readonly readiness: ReadinessService,
  ) {}

  static forRoot(ctx: ServiceContext): DynamicModule {
    return {
      module: ServiceKitModule,
      controllers: [HealthController, MetricsController],
      providers: [
        { provide: SERVICE_CONTEXT, useValue: ctx },
        { provide: NATS_CONNECTION, useValue: ctx.nc },
        ReadinessService,
        { provide: EventPublisher, useFactory: () => new EventPublisher(ctx.nc, ctx.config.clusterId, `${ctx.service}@${ctx.config.nodeId}`) },
        // one typed client per service
        { provide: HostClient, useFactory: () => new HostClient(ctx.nc) },
        { provide: HeartbeatClient, useFactory: () => new HeartbeatClient(ctx.nc) },
        { provide: ResourceManagerClient, useFactory: () => new ResourceManagerClient(ctx.nc) },
        // events that must not hold up the caller: published in order, retried for about a minute
        { provide: OrderedEvents, useFactory: (p: EventPublisher) => new OrderedEvents(ctx.nc, p, new Logger('events')), inject: [EventPublisher] },
      ],
      exports: [SERVICE_CONTEXT, NATS_CONNECTION, ReadinessService, EventPublisher, HostClient, HeartbeatClient, ResourceManagerClient, OrderedEvents],
    };
  }

  onModuleInit(): void {
    this.readiness.register('nats', () => (this.ctx.nc.isClosed() ? 'connection closed' : true));
  }

  beforeApplicationShutdown(): void {
    this.readiness.markStopping();
  }

  async onApplicationShutdown(signal?: string): Promise<void> {
    if (!this.ctx.nc.isClosed()) {
      this.logger.log(`draining NATS (${signal ?? 'close'})`);
      await Promise.race([this.ctx.nc.drain(), new Promise((r) => setTimeout(r, 5_000))]).catch(() => undefined);
    }
  }
}
