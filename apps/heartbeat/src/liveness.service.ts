import { Inject, Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { healthSubject } from '@tandem/contracts';
import { SERVICE_CONTEXT, type ServiceContext } from '@tandem/service-kit';
import type { Subscription } from 'nats';

/**
 * This node's liveness over the NATS channel: answers pings on its health subject with a
 * sequence number and monotonic uptime. (UDP heartbeats, peer tracking and local health come
 * with failure detection.)
 */
@Injectable()
export class LivenessService implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('liveness');
  private sub?: Subscription;
  private seq = 0;

  constructor(@Inject(SERVICE_CONTEXT) private readonly ctx: ServiceContext) {}

  onModuleInit(): void {
    this.sub = this.ctx.nc.subscribe(healthSubject(this.ctx.config.nodeId, 'heartbeat'), {
      callback: (_err, msg) => {
        msg.respond(new TextEncoder().encode(JSON.stringify({ node: this.ctx.config.nodeId, seq: ++this.seq, uptimeMs: Math.round(performance.now()) })));
      },
    });
    this.logger.log(`answering liveness pings for ${this.ctx.config.nodeId}`);
  }

  onApplicationShutdown(): void {
    this.sub?.unsubscribe();
  }
}
